"""A real stack (redis-server + bec-device-server + bec-scan-server) per test module."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from stack import bec, stack  # noqa: F401
