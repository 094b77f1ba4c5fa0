"""Start-up helpers of the device server (startup.py): which modules are preloaded, the GC pause and freeze."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

from bec_device_server.config import DeviceConfig
from bec_device_server.startup import config_modules, preload


def _cfg(name: str, cls: str, enabled: bool = True) -> DeviceConfig:
    return DeviceConfig.model_validate(
        {"name": name, "deviceClass": cls, "readoutPriority": "baseline", "enabled": enabled}
    )


def test_config_modules_are_the_named_ones_within_the_allow_list_once_each() -> None:
    configs = [
        _cfg("samx", "ophyd_devices.SimPositioner"),
        _cfg("samy", "ophyd_devices.SimPositioner"),
        _cfg("bpm", "ophyd_devices.sim.sim_monitor.SimMonitor"),
        _cfg("mine", "bec_device_server.sim.SimMonitor"),
        _cfg("off", "json.JSONDecoder", enabled=False),
        _cfg("bad", "os.system"),
        _cfg("bare", "SimPositioner"),
    ]
    modules = config_modules(configs, ["ophyd_devices", "bec_device_server", "json"])
    assert modules == ["ophyd_devices", "ophyd_devices.sim.sim_monitor", "bec_device_server.sim"]


def test_preload_imports_the_modules_and_survives_a_missing_one() -> None:
    done = preload(["no_such_module_for_the_preload_test", "colorsys"])
    assert done.result(timeout=60) is None
    assert "colorsys" in sys.modules
    assert "no_such_module_for_the_preload_test" not in sys.modules
    assert preload([]).done()


def test_gc_is_paused_until_resumed_then_startup_objects_are_frozen() -> None:
    # in a child process: the test process's own GC state stays untouched
    code = textwrap.dedent(
        """
        import gc
        from bec_device_server.startup import pause_gc, resume_gc
        resume_gc()
        assert gc.isenabled() and gc.get_freeze_count() == 0, "resume without pause is a no-op"
        pause_gc()
        assert not gc.isenabled()
        kept = [[i] for i in range(1000)]
        resume_gc()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= 1000, gc.get_freeze_count()
        from bec_device_server.startup import release_frozen
        release_frozen()
        assert gc.get_freeze_count() == 0
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert gc.isenabled()
