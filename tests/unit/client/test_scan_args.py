"""``bec`` command-line parsing: the top-level parser and a scan's own arguments."""

from __future__ import annotations

import pytest

from bec_core.client.cli import build_parser
from bec_core.client.errors import ScanArgumentError
from bec_core.client.scan_args import build_parser as scan_parser
from bec_core.client.scan_args import parse_scan_args


def test_scan_command_takes_everything_after_the_name():
    args = build_parser().parse_args(
        [
            "--redis",
            "h:1",
            "scan",
            "line_scan",
            "samx",
            "-5",
            "5",
            "--steps",
            "21",
            "--exp-time",
            "0.01",
            "--relative",
        ]
    )
    assert args.redis == "h:1" and args.command == "scan" and args.scan_name == "line_scan"
    assert args.scan_args == ["samx", "-5", "5", "--steps", "21", "--exp-time", "0.01", "--relative"]


def test_no_subcommand_means_shell():
    assert build_parser().parse_args([]).command is None
    assert build_parser().parse_args(["queue", "pause"]).action == "pause"


def test_line_scan_words_are_typed(available_scans):
    args, kwargs, _ = parse_scan_args(
        "line_scan",
        available_scans["line_scan"],
        ["samx", "-5", "5", "--steps", "21", "--exp-time", "0.01", "--no-relative"],
    )
    assert args == ["samx", -5.0, 5.0]
    assert kwargs == {"steps": 21, "relative": False, "exp_time": 0.01}


def test_a_required_flag_has_no_silent_default(available_scans):
    """As in Python (relative= has no default), the CLI wants --relative or --no-relative."""
    with pytest.raises(ScanArgumentError, match="line_scan needs --relative or --no-relative"):
        parse_scan_args("line_scan", available_scans["line_scan"], ["samx", "-5", "5", "--steps", "21"])


def test_relative_flag_and_bundles(available_scans):
    args, kwargs, _ = parse_scan_args(
        "line_scan",
        available_scans["line_scan"],
        ["samx", "-1", "1", "samy", "0", "2", "--steps", "3", "--relative"],
    )
    assert args == ["samx", -1.0, 1.0, "samy", 0.0, 2.0]
    assert kwargs["relative"] is True


def test_lists_and_ints(available_scans):
    args, _, _ = parse_scan_args("list_scan", available_scans["list_scan"], ["samx", "1,2,3.5", "--relative"])
    assert args == ["samx", [1.0, 2.0, 3.5]]
    args, _, _ = parse_scan_args("list_scan", available_scans["list_scan"], ["samx", "[1, 2]", "--relative"])
    assert args == ["samx", [1.0, 2.0]]
    args, _, _ = parse_scan_args(
        "grid_scan",
        available_scans["grid_scan"],
        ["samx", "-1", "1", "3", "samy", "0", "1", "2", "--relative"],
    )
    assert args == ["samx", -1.0, 1.0, 3, "samy", 0.0, 1.0, 2]


def test_bad_words(available_scans):
    with pytest.raises(ScanArgumentError, match="'start' of bundle 1: expected float, got 'abc'"):
        parse_scan_args("line_scan", available_scans["line_scan"], ["samx", "abc", "1", "--steps", "2"])
    with pytest.raises(ScanArgumentError, match=r"--steps: expected int, got '2\.5'"):
        parse_scan_args("line_scan", available_scans["line_scan"], ["samx", "0", "1", "--steps", "2.5"])


def test_unknown_option_and_missing_required_exit_2(available_scans, capsys):
    with pytest.raises(SystemExit) as info:
        parse_scan_args(
            "line_scan", available_scans["line_scan"], ["samx", "0", "1", "--steps", "2", "--bogus", "1"]
        )
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        parse_scan_args("line_scan", available_scans["line_scan"], ["samx", "0", "1"])
    assert "--steps" in capsys.readouterr().err


def test_positional_scan_and_help(available_scans):
    args, _kwargs, _ = parse_scan_args(
        "fermat_scan",
        available_scans["fermat_scan"],
        ["samx", "-1", "1", "samy", "-1", "1", "0.5", "--no-relative"],
    )
    assert args == ["samx", -1.0, 1.0, "samy", -1.0, 1.0, 0.5]
    help_text = scan_parser("line_scan", available_scans["line_scan"]).format_help()
    assert "--exp-time" in help_text and "--relative" in help_text and "DEVICE START STOP" in help_text
