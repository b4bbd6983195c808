"""lgucore: the LGUBaseOpenApi wire protocol core (frames, tokens, ciphers, batches).

Each concern has a compiled twin (Cython) and a pure-Python twin with identical
behaviour. ``HAS_EXTENSIONS`` tells which one is in use; set ``LGUCORE_NO_EXTENSIONS=1``
to force the pure twins (at build time and at import).
"""
from types import SimpleNamespace

from ._types import FRAME_TYPES, HEARTBEAT, HEARTBEAT_ACK, TEXT, TEXT_BASIC, TEXT_SEED, Frame
from .errors import CipherError, FrameError, ProtocolError
from . import batch as _batch, cipher as _cipher, frames as _frames, fields as _fields, tokens as _tokens
from ._env import NO_EXTENSIONS, build_fallback_cause
from .frames import MAX_BODY, FrameDecoder, encode_frame
from .tokens import Message, tokenize
from .fields import project
from .batch import FrameBatch, TokenBatch, decode_batch, tokenize_batch
from .cipher import (
    DEFAULT_BASIC_KEY,
    DEFAULT_SEED_KEY,
    Seed,
    b64decode2,
    b64encode2,
    basic_decrypt,
    basic_encrypt,
    seed_open,
    seed_seal,
)
from .codec import CIPHERS, TextCodec, cipher_of

#: True when every concern runs its compiled twin.
_CONCERNS = (_frames, _tokens, _batch, _cipher, _fields)
HAS_EXTENSIONS: bool = all(m.c is not None for m in _CONCERNS)

if not HAS_EXTENSIONS and not NO_EXTENSIONS and (_cause := build_fallback_cause()) is not None:
    import warnings

    warnings.warn(f"lgucore: the compiled core was not built at install ({_cause}); using the pure-Python "
                  "twin (much slower). Install a C compiler and reinstall, or set LGUCORE_NO_EXTENSIONS=1 "
                  "to choose the pure twin and silence this warning.", RuntimeWarning, stacklevel=2)

__version__ = "0.1.0"


def implementations() -> dict[str, SimpleNamespace]:
    """``{"py": namespace, "c": namespace}`` of each twin's public names (``"c"`` only when built).

    The test-suite runs every core test against each entry.
    """
    out: dict[str, SimpleNamespace] = {}
    for tag in ("py", "c"):
        mods = [getattr(m, tag) for m in _CONCERNS]
        if any(m is None for m in mods):
            continue
        ns = SimpleNamespace(name=tag)
        for m, names in zip(mods, (c.__all__ for c in _CONCERNS)):
            for n in names:
                if n not in ("py", "c"):
                    setattr(ns, n, getattr(m, n))
        out[tag] = ns
    return out


__all__ = [
    "HAS_EXTENSIONS", "NO_EXTENSIONS", "TEXT", "TEXT_BASIC", "TEXT_SEED", "HEARTBEAT", "HEARTBEAT_ACK",
    "FRAME_TYPES", "Frame", "ProtocolError", "FrameError", "CipherError", "MAX_BODY", "encode_frame",
    "FrameDecoder", "Message", "tokenize", "project", "FrameBatch", "TokenBatch", "decode_batch", "tokenize_batch",
    "b64encode2", "b64decode2", "basic_encrypt", "basic_decrypt", "Seed", "seed_seal", "seed_open",
    "DEFAULT_BASIC_KEY", "DEFAULT_SEED_KEY", "TextCodec", "CIPHERS", "cipher_of", "implementations",
]
