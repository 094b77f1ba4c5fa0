"""An example beamline scan plugin for bec-core (docs/scans.md walks through it)."""
