"""Facade for tokens: the compiled twin (_tokens_c) when built, else the pure one (_tokens_py)."""
from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from . import _tokens_py as py
from ._select import compiled

#: the compiled twin, or None (not built, or LGUCORE_NO_EXTENSIONS=1)
c: ModuleType | None = compiled("_tokens_c")

if TYPE_CHECKING:  # both twins have this surface; the stub describes it once
    from ._tokens_c import Message, tokenize
else:
    _impl = c if c is not None else py
    Message = _impl.Message
    tokenize = _impl.tokenize

__all__ = ["Message", "tokenize", "py", "c"]
