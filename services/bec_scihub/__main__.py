"""``python -m bec_scihub``."""

from bec_scihub.cli import main

raise SystemExit(main())
