"""Facade for cipher: the compiled twin (_cipher_c) when built, else the pure one (_cipher_py)."""
from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from . import _cipher_py as py
from ._select import compiled

#: the compiled twin, or None (not built, or LGUCORE_NO_EXTENSIONS=1)
c: ModuleType | None = compiled("_cipher_c")

if TYPE_CHECKING:  # both twins have this surface; the stub describes it once
    from ._cipher_c import (DEFAULT_BASIC_KEY, DEFAULT_SEED_KEY, Seed, b64decode2, b64encode2, basic_decrypt,
                            basic_encrypt, seed_open, seed_seal)
else:
    _impl = c if c is not None else py
    b64encode2 = _impl.b64encode2
    b64decode2 = _impl.b64decode2
    basic_encrypt = _impl.basic_encrypt
    basic_decrypt = _impl.basic_decrypt
    Seed = _impl.Seed
    seed_seal = _impl.seed_seal
    seed_open = _impl.seed_open
    DEFAULT_BASIC_KEY = _impl.DEFAULT_BASIC_KEY
    DEFAULT_SEED_KEY = _impl.DEFAULT_SEED_KEY

__all__ = ["b64encode2", "b64decode2", "basic_encrypt", "basic_decrypt", "Seed", "seed_seal", "seed_open",
           "DEFAULT_BASIC_KEY", "DEFAULT_SEED_KEY", "py", "c"]
