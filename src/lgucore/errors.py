"""Errors of the protocol core, defined once and shared by both implementations.

Every wire error is a :class:`ProtocolError`, itself a :class:`ValueError`, carrying
the stream ``offset`` where it was found and a short ``excerpt`` of the bad bytes.
"""
from __future__ import annotations

from typing import Iterable

from ._types import Buffer, Frame

__all__ = ["ProtocolError", "FrameError", "CipherError"]

_EXCERPT = 16


class ProtocolError(ValueError):
    """Bytes that break docs/protocol.md.

    Attributes:
        offset: byte offset of the problem in the input (or ``None``).
        excerpt: up to 16 bytes of the offending input, for the log.
    """

    def __init__(self, message: str, *, offset: int | None = None, excerpt: Buffer = b"") -> None:
        excerpt = bytes(memoryview(excerpt)[:_EXCERPT]) if excerpt else b""
        self.offset = offset
        self.excerpt = excerpt
        detail = message
        if offset is not None:
            detail += f" (at offset {offset})"
        if excerpt:
            detail += f" near {excerpt!r}"
        super().__init__(detail)


class FrameError(ProtocolError):
    """A frame that cannot be decoded or encoded: bad length, truncated, over a limit.

    ``frames`` holds the whole frames that were decoded from the same ``feed()`` call
    before the error, so nothing that arrived intact is lost.
    """

    def __init__(self, message: str, *, offset: int | None = None, excerpt: Buffer = b"",
                 frames: Iterable[Frame] = ()) -> None:
        super().__init__(message, offset=offset, excerpt=excerpt)
        self.frames: list[Frame] = list(frames)


class CipherError(ProtocolError):
    """A body that is not valid under its cipher: bad Base64, padding, block length or key."""

    #: which Base64 layer failed (``"outer"`` or ``"inner"``), when the error is about Base64
    layer: str | None = None
