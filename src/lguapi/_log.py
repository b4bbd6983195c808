"""Logging helpers: the ``lguapi`` logger family and phone-number masking.

Phone numbers are masked in logs by default (``01012345678`` -> ``010****5678``);
call :func:`set_masking(False)` (or set ``LGUAPI_LOG_NUMBERS=1``) to log them in full.
Passwords are never logged anywhere; :func:`redact` removes ``PWD=...`` from command text.
"""
from __future__ import annotations

import logging
import os
import re

__all__ = ["logger", "mask_number", "mask_text", "redact", "set_masking", "masking_enabled"]

logger = logging.getLogger("lguapi")

_masking = os.environ.get("LGUAPI_LOG_NUMBERS", "") in ("", "0")
_NUM = re.compile(r"(?<![0-9A-Za-z])(0\d{1,2})(\d{3,4})(\d{4})(?![0-9])")
_PWD = re.compile(r"(PWD=)\S*", re.IGNORECASE)


def set_masking(enabled: bool) -> None:
    """Turn phone-number masking in log messages on (default) or off."""
    global _masking
    _masking = bool(enabled)


def masking_enabled() -> bool:
    return _masking


def mask_number(number: str | None) -> str | None:
    """``01012345678`` -> ``010****5678``; short numbers (extensions) are kept."""
    if number is None or not _masking:
        return number
    s = str(number)
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
    return _NUM.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


def redact(text: str) -> str:
    """Remove the password from a command text (``PWD=secret`` -> ``PWD=***``)."""
    return _PWD.sub(r"\1***", text)
