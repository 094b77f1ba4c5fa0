"""The parts of bec-scihub that need no Redis: catalogue shape, content conversion, sink loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from bec_scihub.acl import account_entry
from bec_scihub.catalogue import endpoint_catalogue
from bec_scihub.errors import RestartError, SinkConfigError
from bec_scihub.logbook import available_services
from bec_scihub.notifications import convert, plain_text
from bec_scihub.restart import Restarter
from bec_scihub.sinks import FileSink, SinkContext, StreamSink, load_sinks

from bec_core.config import LogbookSettings, load_settings
from bec_core.errors import ConfigError
from bec_core.messages import (
    MessagingServiceFileContent,
    MessagingServiceTagsContent,
    MessagingServiceTextContent,
)


def test_catalogue_has_every_endpoint_with_bec_libs_parameter_names() -> None:
    signature_to_dict = pytest.importorskip("bec_lib.signature_serializer").signature_to_dict
    from bec_lib.endpoints import MessageEndpoints as BecEndpoints

    catalogue = endpoint_catalogue()
    assert "login_info" in catalogue and "scan_status" in catalogue
    for name, entry in catalogue.items():
        theirs = signature_to_dict(getattr(BecEndpoints, name))
        assert [p["name"] for p in entry["signature"]] == [p["name"] for p in theirs], name
        assert [p["kind"] for p in entry["signature"]] == [p["kind"] for p in theirs], name
        assert entry["doc"]


def test_account_entry_decodes_redis_py_bytes_and_adds_stock_profiles() -> None:
    reply = {
        "keys": [b"info/*"],
        "channels": [b"info/*"],
        "categories": ["+@all"],
        "commands": [],
        "flags": ["on"],
    }
    assert account_entry("user", reply) == {
        "categories": ["+@all"], "keys": ["info/*"], "channels": ["info/*"], "commands": [], "profile": "user_write"
    }  # fmt: skip
    assert "profile" not in account_entry("operator", reply)


def test_notification_content_per_service() -> None:
    text = MessagingServiceTextContent(content="<p><strong>Beam</strong> lost</p>")
    file = MessagingServiceFileContent(filename="a.png", mime_type="image/png", data=b"x")
    assert convert("scilog", [text]) == [text, MessagingServiceTagsContent(tags=["bec"])]
    assert convert("teams", [text, file]) == [MessagingServiceTextContent(content="Beam lost")]
    assert convert("signal", [text, file]) == [MessagingServiceTextContent(content="Beam lost"), file]
    assert plain_text("a &amp; <b>b</b>") == "a & b"


def test_available_services_follow_the_settings() -> None:
    msg = available_services(LogbookSettings(services=["scilog", "signal"], scope="beamline-x"))
    assert msg.config.scilog.enabled and msg.config.signal.enabled and not msg.config.teams.enabled
    assert msg.config.scilog.default == "beamline-x"
    assert [s.service_type for s in msg.deployment_services] == ["scilog", "signal"]


def test_shipped_sinks_load_by_entry_point_and_unknown_ones_are_named(tmp_path: Path) -> None:
    context = SinkContext(LogbookSettings(sinks=["file", "stream"]), tmp_path, connector=None)  # type: ignore[arg-type]
    file_sink, stream_sink = load_sinks(context)
    assert isinstance(file_sink, FileSink) and isinstance(stream_sink, StreamSink)
    assert file_sink.path == tmp_path / "scihub" / "logbook.jsonl"
    bad = SinkContext(LogbookSettings(sinks=["nope"]), tmp_path, connector=None)  # type: ignore[arg-type]
    with pytest.raises(SinkConfigError, match=r"no sink 'nope' in bec_core.logbook_sinks \(file, stream\)"):
        load_sinks(bad)


def test_settings_reject_an_unknown_messaging_service(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text("scihub:\n  logbook:\n    services: [scilog, email]\n")
    with pytest.raises(ConfigError, match=r"scihub.logbook.services.1"):
        load_settings(path, env={})


def test_restart_without_command_needs_bec_servers_pid_file(tmp_path: Path) -> None:
    with pytest.raises(RestartError, match="was not started by 'bec-server start'"):
        Restarter(None, tmp_path, pid=4242).argv()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "scihub.pid").write_text("4242\n")
    argv = Restarter(None, tmp_path, pid=4242).argv()
    assert argv[1:4] == ["-m", "bec_scihub.restart_helper", "--state-dir"]
    assert Restarter(["systemctl", "restart", "bec.target"], tmp_path, pid=1).argv()[0] == "systemctl"
