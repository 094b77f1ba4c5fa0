"""The client against a real stack: the fixtures of tests/system/client (processes, not fakes)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "system" / "client"))

from stack import bec, stack  # noqa: F401
