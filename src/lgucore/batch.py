"""Facade for batch: the compiled twin (_batch_c) when built, else the pure one (_batch_py)."""
from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from . import _batch_py as py
from ._select import compiled

#: the compiled twin, or None (not built, or LGUCORE_NO_EXTENSIONS=1)
c: ModuleType | None = compiled("_batch_c")

if TYPE_CHECKING:  # both twins have this surface; the stub describes it once
    from ._batch_c import FrameBatch, TokenBatch, build_events, decode_batch, tokenize_batch
else:
    _impl = c if c is not None else py
    FrameBatch = _impl.FrameBatch
    TokenBatch = _impl.TokenBatch
    build_events = _impl.build_events
    decode_batch = _impl.decode_batch
    tokenize_batch = _impl.tokenize_batch

__all__ = ["FrameBatch", "TokenBatch", "build_events", "decode_batch", "tokenize_batch", "py", "c"]
