"""Shared test setup: tests/ is importable so `harness` can be shared."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
