"""Facade for frames: the compiled twin (_frames_c) when built, else the pure one (_frames_py)."""
from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from . import _frames_py as py
from ._select import compiled

#: the compiled twin, or None (not built, or LGUCORE_NO_EXTENSIONS=1)
c: ModuleType | None = compiled("_frames_c")

if TYPE_CHECKING:  # both twins have this surface; the stub describes it once
    from ._frames_c import encode_frame, FrameDecoder, MAX_BODY
else:
    _impl = c if c is not None else py
    encode_frame = _impl.encode_frame
    FrameDecoder = _impl.FrameDecoder
    MAX_BODY = _impl.MAX_BODY

__all__ = ["encode_frame", "FrameDecoder", "MAX_BODY", "py", "c"]
