"""Bounds on texts that travel: answers, log lines, alarms, ``user/log`` entries.

A request may carry megabytes in one field; whatever quotes it (a refusal, a
log line, an alarm) keeps a bounded part and says how long the whole was.
"""

from __future__ import annotations

from bec_core.messages.helpers import ErrorInfo

#: longest text of one log line, alarm or ``user/log`` entry (characters)
MAX_ENTRY = 4000


def cut_text(text: str, limit: int = MAX_ENTRY) -> str:
    """``text`` itself if it has at most ``limit`` characters, else its start and its length.

    >>> cut_text("x" * 30, 20)
    'xxxxxx... [30 chars]'
    """
    if len(text) <= limit:
        return text
    marker = f"... [{len(text)} chars]"
    return text[: max(limit - len(marker), 0)] + marker


#: longest full error text (a traceback) of one alarm or error reply
MAX_TRACEBACK = 16000


def bounded_error_info(info: ErrorInfo) -> ErrorInfo:
    """``info`` with its texts cut: the one-line message to :data:`MAX_ENTRY`, the full one (a
    traceback) to :data:`MAX_TRACEBACK` characters."""
    full = cut_text(info.error_message, MAX_TRACEBACK)
    compact = None if info.compact_error_message is None else cut_text(info.compact_error_message)
    if full is info.error_message and compact is info.compact_error_message:
        return info
    return info.model_copy(update={"error_message": full, "compact_error_message": compact})
