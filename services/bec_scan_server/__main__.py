"""``python -m bec_scan_server``."""

from bec_scan_server.cli import main

raise SystemExit(main())
