"""Type stubs of the compiled tokenizer (same API as ``lgucore._tokens_py``)."""
from __future__ import annotations

from typing import Any, Iterable, Optional, Tuple, Union

_Buffer = Union[bytes, bytearray, memoryview]

__all__ = ["Message", "tokenize"]

class Message:
    """One tokenized event; equal to a pure ``Message`` with the same name and fields."""

    name: str
    raw: bytes
    def __init__(self, name: str, fields: Iterable[Tuple[Optional[str], str]], raw: bytes = ...) -> None: ...
    @property
    def fields(self) -> Tuple[Tuple[Optional[str], str], ...]:
        """Ordered ``(key, value)`` pairs; ``key`` is None for a positional field."""
    def get(self, key: Optional[str], default: Any = None) -> Any:
        """The first value of ``key``, or ``default``."""
    def getall(self, key: Optional[str]) -> list[str]:
        """Every value of ``key``, in order."""
    def __contains__(self, key: object) -> bool: ...
    def to_dict(self) -> dict[str, str]:
        """Keys to their first value; positional fields left out."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

def tokenize(body: _Buffer, *, charset: str = "cp949") -> Message:
    """Split one event body into a Message (never raises on bad text)."""
