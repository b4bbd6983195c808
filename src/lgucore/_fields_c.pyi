"""Type stubs of the compiled field projector (same API as ``lgucore._fields_py``)."""
from __future__ import annotations

from typing import Any, Generic, Iterable, Optional, Tuple, TypeVar

from ._tokens_c import Message

_T = TypeVar("_T")

__all__ = ["project", "build", "Builder", "FIELD_TEXT", "FIELD_INT", "FIELD_FLAG"]

FIELD_TEXT: int
FIELD_INT: int
FIELD_FLAG: int

def project(fields: Iterable[Tuple[Optional[str], Any]], spec: dict[str, Tuple[str, int]], out: dict[str, Any]) -> None:
    """Store the first value of each key of ``spec`` found in ``fields`` into ``out``."""

def build(cls: type[_T], base: dict[str, Any], spec: dict[str, Tuple[str, int]], fields: Iterable[Tuple[Optional[str], Any]]) -> _T:
    """A new ``cls`` instance (no ``__init__``) whose ``__dict__`` is ``base`` updated by :func:`project`."""


class Builder(Generic[_T]):
    """Makes ``cls`` instances from tokenized fields: :func:`build` with the arguments checked once,
    plus ``extra`` attributes set from a tuple of values."""

    cls: type[_T]
    extra: Tuple[str, ...]

    def __init__(self, cls: type[_T], base: dict[str, Any], spec: dict[str, Tuple[str, int]],
                 extra: Iterable[str] = ...) -> None: ...
    def build(self, fields: Iterable[Tuple[Optional[str], Any]] | Message, values: Tuple[Any, ...] = ...) -> _T:
        """``base`` updated by :func:`project` of ``fields`` (pairs, or a tokenized message: only the
        values the spec names are decoded), then ``extra`` = ``values``."""
