"""The e2e suite's helpers are plain modules beside this file (stock_env, suite, report)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
