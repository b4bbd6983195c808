"""Type stubs of the compiled field projector (same API as ``lgucore._fields_py``)."""
from __future__ import annotations

from typing import Any, Iterable, Optional, Tuple

__all__ = ["project", "FIELD_TEXT", "FIELD_INT", "FIELD_FLAG"]

FIELD_TEXT: int
FIELD_INT: int
FIELD_FLAG: int

def project(fields: Iterable[Tuple[Optional[str], Any]], spec: dict[str, Tuple[str, int]], out: dict[str, Any]) -> None:
    """Store the first value of each key of ``spec`` found in ``fields`` into ``out``."""
