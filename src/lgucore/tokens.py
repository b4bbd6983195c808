"""Facade for tokens: the compiled twin (_tokens_c) when built, else the pure one (_tokens_py)."""
from . import _tokens_py as py
from ._select import compiled

c = compiled("_tokens_c")
_impl = c if c is not None else py

Message = _impl.Message
tokenize = _impl.tokenize

__all__ = ["Message", "tokenize", "py", "c"]
