"""One typed schema: every option declared once, with its type, default and help."""

from seawall.config.load import load_config, load_config_text
from seawall.config.schema import Config

__all__ = ["Config", "load_config", "load_config_text"]
