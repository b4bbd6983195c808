"""Facade for frames: the compiled twin (_frames_c) when built, else the pure one (_frames_py)."""
from . import _frames_py as py
from ._select import compiled

c = compiled("_frames_c")
_impl = c if c is not None else py

encode_frame = _impl.encode_frame
FrameDecoder = _impl.FrameDecoder
MAX_BODY = _impl.MAX_BODY

__all__ = ["encode_frame", "FrameDecoder", "MAX_BODY", "py", "c"]
