"""Simulated devices (ophyd-based) that stand in for BEC's ``ophyd_devices`` simulations.

``ophyd_devices.SimPositioner``, ``ophyd_devices.SimMonitor`` and
``ophyd_devices.SimCamera`` in a device config resolve to the classes here and
honour the same ``deviceConfig`` keys.

Every class here sets ``bec_cheap_read = True``: its ``read()`` is pure Python
arithmetic on in-memory values, so the device server may call it on the event
loop instead of hopping to a worker thread.
"""

from bec_device_server.sim.camera import SimCamera
from bec_device_server.sim.monitor import SimMonitor
from bec_device_server.sim.positioner import SimPositioner
from bec_device_server.sim.testing import SimFailing

__all__ = ["SimCamera", "SimFailing", "SimMonitor", "SimPositioner"]
