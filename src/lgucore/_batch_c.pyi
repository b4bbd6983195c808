"""Type stubs of the compiled columnar batch decoder (same API as ``lgucore._batch_py``)."""
from __future__ import annotations

from typing import Any, Callable, Union

import numpy as np

from ._tokens_c import Message
from ._types import Frame

_Buffer = Union[bytes, bytearray, memoryview]

__all__ = ["FrameBatch", "TokenBatch", "build_events", "decode_batch", "tokenize_batch"]

class FrameBatch:
    """Frames of one buffer as columns; keeps a read-only view of the buffer (pins a bytearray)."""

    buffer: memoryview
    types: np.ndarray  # uint16
    offsets: np.ndarray  # int64
    lengths: np.ndarray  # int64
    consumed: int
    def __init__(self, buffer: memoryview, types: np.ndarray, offsets: np.ndarray, lengths: np.ndarray,
                 consumed: int) -> None: ...
    def __len__(self) -> int: ...
    def body(self, i: int) -> memoryview: ...
    def frame(self, i: int) -> Frame: ...
    def frames(self) -> list[Frame]: ...

class TokenBatch:
    """Name and field spans of every frame of a FrameBatch, as int64 columns into its buffer."""

    frames: FrameBatch
    charset: str
    name_offsets: np.ndarray
    name_lengths: np.ndarray
    field_index: np.ndarray
    field_frame: np.ndarray
    key_offsets: np.ndarray
    key_lengths: np.ndarray
    value_offsets: np.ndarray
    value_lengths: np.ndarray
    def __init__(self, frames: FrameBatch, charset: str, name_offsets: np.ndarray, name_lengths: np.ndarray,
                 field_index: np.ndarray, field_frame: np.ndarray, key_offsets: np.ndarray,
                 key_lengths: np.ndarray, value_offsets: np.ndarray, value_lengths: np.ndarray) -> None: ...
    def __len__(self) -> int: ...
    @property
    def nfields(self) -> int: ...
    def message(self, i: int) -> Message: ...
    def messages(self) -> list[Message]: ...

def decode_batch(buffer: _Buffer, *, byteorder: str = "big", max_body: int = 65535) -> FrameBatch:
    """Every whole frame of ``buffer``, zero-copy; FrameError at a header over ``max_body``."""

def tokenize_batch(batch: FrameBatch, *, charset: str = "cp949") -> TokenBatch:
    """Tokenize every body of ``batch`` into columns; no Python string is created."""

def build_events(buffer: _Buffer, starts: np.ndarray, ends: np.ndarray, keys: np.ndarray, stamps: list[float],
                 labels: dict[int, tuple[Any, str]], builders: dict[str, Any],
                 other: Callable[[Message, tuple[str, Any, float], int], Any]) -> list[Any]:
    """One built object per body ``buffer[starts[i]:ends[i]]`` (see ``_batch_py.build_events``)."""
