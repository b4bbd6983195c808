"""JSON for the gateway: typed results and events to plain data, compact dumps, number masking.

>>> to_jsonable({"at": (1, 2)})
{'at': [1, 2]}
>>> mask_numbers({"remote_number": "01012345678", "exten": "3001"})
{'remote_number': '010****5678', 'exten': '3001'}
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import re
from typing import Any

__all__ = ["to_jsonable", "dumps", "mask_numbers"]

# a phone number: 0, then 7 to 11 more digits, not inside a longer run of digits or a word
_PHONE = re.compile(r"(?<![0-9A-Za-z])(0\d{2})(\d{1,4})(\d{4})(?![0-9])")


def to_jsonable(value: Any) -> Any:
    """Plain JSON data from events (``to_dict()`` without ``raw``), dataclasses, tuples,
    datetimes and bytes; anything else unknown becomes its ``str``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        d = to_dict()
        d.pop("raw", None)
        return to_jsonable(d)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def dumps(value: Any) -> str:
    """Compact JSON text (UTF-8 kept as is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def mask_numbers(value: Any) -> Any:
    """A copy of ``value`` with every phone number inside its strings masked
    (``01012345678`` -> ``010****5678``); extensions and call ids are left alone."""
    if isinstance(value, str):
        return _PHONE.sub(_mask_match, value) if len(value) >= 8 else value
    if isinstance(value, dict):
        return {k: mask_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_numbers(v) for v in value]
    return value


def _mask_match(m: re.Match) -> str:
    return m.group(1) + "*" * len(m.group(2)) + m.group(3)
