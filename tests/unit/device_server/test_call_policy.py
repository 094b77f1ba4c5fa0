"""Which device classes the device server calls on its event loop (build.call_policy)."""

from __future__ import annotations

import ophyd_devices as opd
from bec_device_server.build import INLINE_CLASSES, call_policy
from bec_device_server.sim import SimMonitor as OwnMonitor


class PluginMonitor(opd.SimMonitor):
    """A beamline subclass: may do anything in read(), so it is not trusted to run on the loop."""


class Declares(opd.SimCamera):
    bec_cheap_read = True
    bec_inline_calls = False


def test_listed_ophyd_devices_classes_run_on_the_loop() -> None:
    assert call_policy(opd.SimPositioner) == (True, True)
    assert call_policy(opd.SimMonitor) == (True, True)
    assert len(INLINE_CLASSES) == 2


def test_other_and_derived_classes_stay_in_the_thread_pool() -> None:
    assert call_policy(opd.SimCamera) == (False, False)
    assert call_policy(opd.SimMonitorAsync) == (False, False)
    assert call_policy(PluginMonitor) == (False, False)


def test_a_class_attribute_decides_when_present() -> None:
    assert call_policy(OwnMonitor) == (True, True)
    assert call_policy(Declares) == (True, False)
