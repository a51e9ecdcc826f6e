"""Indicator sharing: an incident's attacking addresses out as STIX 2.1 or plain lists,
a peer's in as edge rules for anonymous clients. Imports only `core` (and itself);
`commands.py` is the CLI wiring and also reads the configuration and the store."""

from seawall.intel.derive import from_incident
from seawall.intel.indicators import (
    Bounds,
    Indicator,
    IntelError,
    Parsed,
    Reading,
    RuleBatch,
    to_rules,
)

__all__ = [
    "Bounds",
    "Indicator",
    "IntelError",
    "Parsed",
    "Reading",
    "RuleBatch",
    "from_incident",
    "to_rules",
]
