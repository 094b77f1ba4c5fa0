"""``python -m bec_file_writer``."""

from bec_file_writer.cli import main

raise SystemExit(main())
