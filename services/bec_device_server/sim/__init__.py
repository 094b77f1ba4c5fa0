"""Simulated devices (ophyd-based) that stand in for BEC's ``ophyd_devices`` simulations.

``ophyd_devices.SimPositioner``, ``ophyd_devices.SimMonitor`` and
``ophyd_devices.SimCamera`` in a device config resolve to the classes here and
honour the same ``deviceConfig`` keys.

Every class here sets ``bec_cheap_read = True``: its ``read()`` is pure Python
arithmetic on in-memory values, so the device server may call it on the event
loop instead of hopping to a worker thread. They also set ``bec_inline_calls =
True``: ``set()`` and ``trigger()`` never block (a timed move or exposure runs
in its own thread or timer and finishes the returned Status from there), so
those are called on the event loop too. Their ``read()`` (see
:class:`~bec_device_server.sim.lean.LeanRead`) returns exactly ophyd's
``Device.read()`` without re-deriving the component kinds on every call.
"""

from bec_device_server.sim.camera import SimCamera
from bec_device_server.sim.monitor import SimMonitor
from bec_device_server.sim.positioner import SimPositioner
from bec_device_server.sim.testing import SimFailing

__all__ = ["SimCamera", "SimFailing", "SimMonitor", "SimPositioner"]
