"""No silent fallback: the compiled core must be in use unless it was switched off."""
import importlib
import os

import lgucore


def test_compiled_core_loaded_unless_switched_off():
    switched_off = os.environ.get("LGUCORE_NO_EXTENSIONS", "") not in ("", "0")
    if switched_off:
        assert lgucore.HAS_EXTENSIONS is False
        assert set(lgucore.implementations()) == {"py"}
    else:
        missing = [m for m in ("_frames_c", "_tokens_c", "_batch_c", "_cipher_c")
                   if importlib.util.find_spec(f"lgucore.{m}") is None]
        assert not missing, f"compiled twins missing {missing}: run `make build` (or set LGUCORE_NO_EXTENSIONS=1)"
        assert lgucore.HAS_EXTENSIONS is True
        assert lgucore.tokenize is lgucore.tokens.c.tokenize
        assert lgucore.Seed is lgucore.cipher.c.Seed


def test_both_twins_expose_the_same_names():
    impls = lgucore.implementations()
    names = [sorted(n for n in vars(ns) if n != "name") for ns in impls.values()]
    assert all(n == names[0] for n in names)


def test_compiled_call_tracker_loaded_unless_switched_off():
    """The call tracker's hot modules have a compiled twin too (lguapi.calls._c), under the same rules."""
    from lguapi.calls import _twin

    switched_off = os.environ.get("LGUCORE_NO_EXTENSIONS", "") not in ("", "0")
    if switched_off:
        assert _twin.COMPILED is False
        assert all(_twin.hot(m).__name__ == f"lguapi.calls.{m}" for m in _twin.HOT_MODULES)
    else:
        missing = [m for m in _twin.HOT_MODULES if importlib.util.find_spec(f"lguapi.calls._c.{m}") is None]
        assert not missing, f"call tracker's compiled twins missing {missing}: run `make build`"
        assert _twin.COMPILED is True
        assert all(_twin.hot(m).__name__ == f"lguapi.calls._c.{m}" for m in _twin.HOT_MODULES)
        assert not _twin.hot("book").__file__.endswith(".py")
