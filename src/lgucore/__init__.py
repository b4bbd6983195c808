"""lgucore: the LGUBaseOpenApi wire protocol core (frames, tokens, ciphers, batches).

Each concern has a compiled twin (Cython) and a pure-Python twin with identical
behaviour. ``HAS_EXTENSIONS`` tells which one is in use; set ``LGUCORE_NO_EXTENSIONS=1``
to force the pure twins (at build time and at import).

The batch decoder (``decode_batch``, ``tokenize_batch`` and their batches) returns numpy
columns, and numpy costs a process some 60 ms and a pool of BLAS threads to import: it is
imported on first use, so that a client, a monitor or a CLI command that never decodes a
batch never loads numpy.
"""
import importlib
import importlib.util
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from ._types import FRAME_TYPES, HEARTBEAT, HEARTBEAT_ACK, TEXT, TEXT_BASIC, TEXT_SEED, Frame
from .errors import CipherError, FrameError, ProtocolError
from . import cipher as _cipher, frames as _frames, fields as _fields, tokens as _tokens
from ._env import NO_EXTENSIONS, build_fallback_cause
from .frames import MAX_BODY, FrameDecoder, encode_frame
from .tokens import Message, tokenize
from .fields import project
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

if TYPE_CHECKING:
    from .batch import FrameBatch, TokenBatch, decode_batch, tokenize_batch

#: the names of lgucore.batch, imported with it on first use (see the module's docstring)
_BATCH_NAMES = ("FrameBatch", "TokenBatch", "decode_batch", "tokenize_batch")
#: the concerns imported with lgucore (the batch decoder is the fifth)
_EAGER = (_frames, _tokens, _cipher, _fields)


def _batch() -> ModuleType:
    # (import_module, not "from . import batch": that asks this module for the name first)
    return importlib.import_module(f"{__name__}.batch")


def _concerns() -> tuple:
    """Every concern's facade, the batch decoder's imported now."""
    return (_frames, _tokens, _batch(), _cipher, _fields)


def __getattr__(name: str) -> Any:
    if name in _BATCH_NAMES or name == "batch":
        batch = _batch()
        value = batch if name == "batch" else getattr(batch, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lgucore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_BATCH_NAMES))


#: True when every concern runs its compiled twin (the batch decoder's: built, found without
#: importing it; a build that cannot be imported raises when the batch decoder is first used)
HAS_EXTENSIONS: bool = (all(m.c is not None for m in _EAGER)
                        and importlib.util.find_spec("lgucore._batch_c") is not None)

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
    concerns = _concerns()
    for tag in ("py", "c"):
        mods = [getattr(m, tag) for m in concerns]
        if any(m is None for m in mods):
            continue
        ns = SimpleNamespace(name=tag)
        for m, names in zip(mods, (c.__all__ for c in concerns)):
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
