"""Facade for batch: the compiled twin (_batch_c) when built, else the pure one (_batch_py)."""
from . import _batch_py as py
from ._select import compiled

c = compiled("_batch_c")
_impl = c if c is not None else py

FrameBatch = _impl.FrameBatch
TokenBatch = _impl.TokenBatch
decode_batch = _impl.decode_batch
tokenize_batch = _impl.tokenize_batch

__all__ = ["FrameBatch", "TokenBatch", "decode_batch", "tokenize_batch", "py", "c"]
