"""Per-entry bounds on texts (``bec_core.text``): answers, log lines, alarms, ``user/log``."""

from __future__ import annotations

import logging
import sys

from bec_core.logs import BoundedFormatter
from bec_core.messages import ErrorInfo
from bec_core.text import MAX_ENTRY, MAX_TRACEBACK, bounded_error_info, cut_text


def test_cut_text_keeps_short_texts_and_says_how_long_a_cut_one_was() -> None:
    assert cut_text("short", 20) == "short"
    cut = cut_text("x" * 10_000, 100)
    assert len(cut) == 100 and cut.endswith("... [10000 chars]")


def test_an_alarm_quoting_megabytes_is_bounded() -> None:
    info = ErrorInfo(error_message="t" * 2_000_000, compact_error_message="c" * 2_000_000, exception_type="X")
    bounded = bounded_error_info(info)
    assert len(bounded.error_message) == MAX_TRACEBACK
    assert bounded.compact_error_message is not None and len(bounded.compact_error_message) == MAX_ENTRY
    assert bounded.id == info.id and bounded.exception_type == "X"
    small = ErrorInfo(error_message="a", compact_error_message="b", exception_type="X")
    assert bounded_error_info(small) is small


def test_a_log_line_is_cut_but_its_traceback_kept() -> None:
    formatter = BoundedFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "%s", ("m" * 100_000,), sys.exc_info())
    line = formatter.format(record)
    first = line.splitlines()[0]
    assert len(first) <= MAX_ENTRY + 10 and first.endswith("chars]")
    assert "ValueError: boom" in line
    assert record.getMessage() == "m" * 100_000  # the record itself is left whole for other handlers
