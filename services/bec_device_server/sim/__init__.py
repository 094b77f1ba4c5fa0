"""bec-core's own fast simulated devices (ophyd-based), under their own class names.

A config names them ``bec_device_server.sim.SimPositioner`` (``SimMonitor``,
``SimCamera``); they honour the ``deviceConfig`` keys of the ``ophyd_devices``
classes of the same short name. ``ophyd_devices.X`` in a config is the real
``ophyd_devices`` class (``resolve.py``), as in stock BEC.

Every class here sets ``bec_cheap_read = True``: its ``read()`` is pure Python
arithmetic on in-memory values, so the device server may call it on the event
loop instead of hopping to a worker thread. They also set ``bec_inline_calls =
True``: ``set()``, ``trigger()``, ``stage()``, ``unstage()`` and ``on_scan_open``
never block (a timed move or exposure runs in its own thread or timer and
finishes the returned Status from there), so those are called on the event
loop too. Their ``read()`` (see
:class:`~bec_device_server.sim.lean.LeanRead`) returns exactly ophyd's
``Device.read()`` without re-deriving the component kinds on every call.
"""

from bec_device_server.sim.camera import SimCamera
from bec_device_server.sim.monitor import SimMonitor
from bec_device_server.sim.positioner import SimPositioner
from bec_device_server.sim.testing import SimFailing

__all__ = ["SimCamera", "SimFailing", "SimMonitor", "SimPositioner"]
