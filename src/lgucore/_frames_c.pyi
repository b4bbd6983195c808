"""Type stubs of the compiled frame codec (same API as ``lgucore._frames_py``)."""
from __future__ import annotations

from typing import Union

from ._types import Frame

_Buffer = Union[bytes, bytearray, memoryview]

__all__ = ["encode_frame", "FrameDecoder", "MAX_BODY"]

MAX_BODY: int

def encode_frame(ftype: int, body: _Buffer = ..., *, byteorder: str = "big") -> bytes:
    """One frame ``type:u16 | length:u16 | body``; FrameError when the body passes 65535 bytes."""

class FrameDecoder:
    """Incremental decoder: ``feed()`` pieces of any size, get the frames they complete."""

    def __init__(self, *, byteorder: str = "big", max_body: int = 65535, max_buffer: int = 1 << 20) -> None: ...
    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a whole frame."""
    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet returned in a frame."""
    def feed(self, data: _Buffer) -> list[Frame]:
        """Add ``data`` and return the frames it completes (FrameError closes the decoder)."""
    def eof(self) -> None:
        """Raise FrameError when the stream ended inside a frame."""
