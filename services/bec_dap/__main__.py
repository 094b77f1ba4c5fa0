"""``python -m bec_dap``."""

from bec_dap.cli import main

raise SystemExit(main())
