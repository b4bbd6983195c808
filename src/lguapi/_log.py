"""Logging helpers: the ``lguapi`` logger family, phone-number masking and rate-limited warnings.

Phone numbers are masked in logs by default (``01012345678`` -> ``010****5678``,
``+82 10-1234-5678`` -> ``+82 10-****-5678``); call :func:`set_masking(False)` (or set
``LGUAPI_LOG_NUMBERS=1``) to log them in full. Passwords are never logged anywhere;
:func:`redact` removes ``PWD=...`` from command text. :class:`WarningLimiter` keeps a
repeated warning (a flood of bad frames) to a few lines and counts the rest.
"""
from __future__ import annotations

import logging
import os
import re
import time
from typing import Callable

__all__ = ["logger", "mask_number", "mask_text", "redact", "set_masking", "masking_enabled", "WarningLimiter"]

logger = logging.getLogger("lguapi")

_masking = os.environ.get("LGUAPI_LOG_NUMBERS", "") in ("", "0")
#: a phone number as people write it: a trunk 0 or a +country code, then the area or mobile
#: prefix, then 3-4 and 4 digits, optionally separated by one space, dot or hyphen each
#: (``01012345678``, ``010-1234-5678``, ``010 1234 5678``, ``+82 10-1234-5678``, ``(02) 123-4567``).
#: It never starts inside an ASCII word or right after ``<digit>.``/``<digit>-`` (unique ids,
#: channel suffixes) and never ends before an ASCII letter or digit, or ``.``/``-`` plus a digit
#: (dates, addresses). Korean text around it does not matter (``번호010-1234-5678입니다``).
_NUM = re.compile(r"""
    (?<![0-9A-Za-z_+])(?<!\d[.-])
    (?:\+\d{1,3}[ .-]?\d{1,2} | \(0\d{1,2}\)\ ? | 0\d{1,2})
    [ .-]?\d{3,4}
    [ .-]?\d{4}
    (?![0-9A-Za-z_])(?![.-]\d)
""", re.X)
_GROUPS = re.compile(r"[ .()-]+")
_PWD = re.compile(r"(PWD=)\S*", re.IGNORECASE)


def set_masking(enabled: bool) -> None:
    """Turn phone-number masking in log messages on (default) or off."""
    global _masking
    _masking = bool(enabled)


def masking_enabled() -> bool:
    return _masking


def mask_number(number: str | None) -> str | None:
    """``01012345678`` -> ``010****5678``, ``010-1234-5678`` -> ``010-****-5678``; extensions are kept."""
    if number is None or not _masking:
        return number
    s = str(number)
    if _NUM.fullmatch(s):
        return _mask_match(s)
    digits = sum(ch.isdigit() for ch in s)
    if digits < 8:
        return s
    keep_head = 3
    keep_tail = 4
    return s[:keep_head] + "*" * (len(s) - keep_head - keep_tail) + s[-keep_tail:]


def mask_text(text: str) -> str:
    """Mask every phone number (8+ digits starting with 0) inside ``text``; also :func:`redact`."""
    text = redact(text)
    if not _masking:
        return text
    return _NUM.sub(lambda m: _mask_match(m.group(0)), text)


def _mask_match(number: str) -> str:
    """Star every digit of ``number`` but its prefix (trunk/country code and area) and its last four."""
    digits = sum(ch.isdigit() for ch in number)
    groups = [g for g in _GROUPS.split(number) if g]
    if len(groups) == 1:  # written without separators: 010|1234|5678, +8210|1234|5678
        head = 4 if number.startswith("+") else 3
    else:
        head = len(groups[0].lstrip("+"))
        if number.startswith("+") and head < 4:
            head += len(groups[1])  # +82 10-...: the country code and the mobile or area prefix
    head = min(head, digits - 5)
    out = []
    seen = 0
    for ch in number:
        if ch.isdigit():
            seen += 1
            if head < seen <= digits - 4:
                ch = "*"
        out.append(ch)
    return "".join(out)


def redact(text: str) -> str:
    """Remove the password from a command text (``PWD=secret`` -> ``PWD=***``)."""
    return _PWD.sub(r"\1***", text)


class WarningLimiter:
    """Log one kind of warning at most ``burst`` times per ``interval`` seconds; count the rest.

    The first line after a quiet spell says how many were left out. ``suppressed`` is the
    total left out so far.

    >>> lim = WarningLimiter(burst=1, interval=60)
    >>> [lim.allow("bad frame") for _ in range(3)], lim.suppressed
    ([True, False, False], 2)
    """

    def __init__(self, *, burst: int = 5, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        if not isinstance(burst, int) or burst < 1:
            raise ValueError("warning burst must be a positive integer")
        if not interval > 0:
            raise ValueError("warning interval must be > 0 seconds")
        self.burst = burst
        self.interval = float(interval)
        self.suppressed = 0
        self._clock = clock
        self._windows: dict[str, list] = {}  # key -> [window start, logged in window, left out since last line]

    def allow(self, key: str) -> bool:
        """True when a warning of ``key`` may be logged now; otherwise it is counted."""
        now = self._clock()
        w = self._windows.get(key)
        if w is None or now - w[0] >= self.interval:
            left_out = w[2] if w is not None else 0
            w = self._windows[key] = [now, 0, left_out]
        if w[1] < self.burst:
            w[1] += 1
            return True
        w[2] += 1
        self.suppressed += 1
        return False

    def warning(self, log: logging.Logger, key: str, msg: str, *args) -> None:
        """``log.warning(msg, *args)`` unless ``key`` is over its rate; the next line tells the count."""
        self._log(log, logging.WARNING, key, msg, args, False)

    def error(self, log: logging.Logger, key: str, msg: str, *args, exc_info: bool = False) -> None:
        """:meth:`warning` at ERROR level (``exc_info``: with the exception being handled)."""
        self._log(log, logging.ERROR, key, msg, args, exc_info)

    def _log(self, log: logging.Logger, level: int, key: str, msg: str, args: tuple, exc_info: bool) -> None:
        if not self.allow(key):
            return
        w = self._windows[key]
        left_out, w[2] = w[2], 0
        if left_out:
            kind = "warnings" if level == logging.WARNING else "errors"
            log.log(level, msg + f" (%d similar {kind} not logged)", *args, left_out, exc_info=exc_info)
        else:
            log.log(level, msg, *args, exc_info=exc_info)
