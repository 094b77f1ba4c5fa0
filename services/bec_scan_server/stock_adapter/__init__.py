"""Hosting scans written for stock BEC's scan classes (docs/decisions/0006-stock-scan-plugins.md).

A beamline plugin's class that subclasses ``bec_server.scan_server.scans.ScanBase``
runs in bec-core's scan server as a queue item of its own kind:

* :mod:`.declare` wraps the class as a :class:`~bec_scan_server.scans.base.ScanBase`
  (:class:`~.declare.HostedScan`) with stock's own ``available_scans`` entry;
* :mod:`.host` holds what the class is constructed with: stock bec_lib's
  ``RedisConnector`` and ``DeviceManagerBase`` (fed by our device info) and a
  device-lock registry;
* :mod:`.bridge` is its instruction handler and connector: every stock
  ``DeviceInstructionMessage`` goes out through our
  :class:`~bec_scan_server.instructions.InstructionClient`, and monitored reads
  become points (:class:`~.bridge.PointAssembler`);
* :mod:`.run` runs its hooks in a worker thread per item, with open/close, numbers,
  baseline, pause and stop from our runner.

Stock ``bec-server`` is never a dependency of bec-core: it is found through
``scan_server.plugin_paths`` (:mod:`.paths`).
"""
