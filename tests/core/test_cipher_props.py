"""Property tests of the ciphers (hypothesis): round trips, strictness, twins that agree."""
from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import lgucore
from lgucore import CipherError

IMPLS = lgucore.implementations()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

keys16 = st.binary(min_size=16, max_size=16)
# Text near the Base64 alphabet, so that the interesting faults (padding, tails) come up often.
b64ish = st.lists(st.sampled_from(list(b"QUJDRWxz09+/=") + [0x0A, 0x20, 0x2D, 0x00, 0xFF]), max_size=24).map(bytes)


def _outcome(fn, *args):
    """The result, or the error's class, message, offset and layer — what twins must share."""
    try:
        return ("ok", fn(*args))
    except (ValueError, TypeError) as exc:
        return (type(exc), str(exc), getattr(exc, "offset", None), getattr(exc, "layer", None))


# ---------------------------------------------------------------- round trips

@FAST
@given(data=st.binary(max_size=600))
def test_b64_round_trip(impl, data):
    assert impl.b64decode2(impl.b64encode2(data)) == data


@FAST
@given(data=st.binary(max_size=600), key=st.binary(min_size=1, max_size=24))
def test_basic_round_trip(impl, data, key):
    assert impl.basic_decrypt(impl.basic_encrypt(data, key), key) == data


@FAST
@given(data=st.binary(max_size=300), key=keys16, iv=keys16)
def test_seed_round_trip(impl, data, key, iv):
    s = impl.Seed(key)
    ct = s.encrypt_cbc(iv, data)
    assert len(ct) == (len(data) // 16 + 1) * 16
    assert s.decrypt_cbc(iv, ct) == data
    body = impl.seed_seal(data, s, iv=iv)
    assert impl.seed_open(body, key) == data
    assert impl.seed_open(impl.seed_seal(data, key), s) == data


# ---------------------------------------------------------------- strictness

@FAST
@given(text=b64ish)
@example(text=b"QR==")
@example(text=b"QQ==QQ==")
@example(text=b"WQR0=")
def test_one_layer_is_binascii_strict_plus_canonical(impl, text):
    # Through the inner layer, one layer of our decoder accepts exactly the texts that
    # binascii's strict mode accepts and that re-encode to themselves.
    try:
        ref = binascii.a2b_base64(text, strict_mode=True)
        ok = base64.b64encode(ref) == text
    except binascii.Error:
        ok = False
    outer = base64.b64encode(text)
    if ok:
        assert impl.b64decode2(outer) == ref
    else:
        with pytest.raises(CipherError) as info:
            impl.b64decode2(outer)
        assert info.value.layer == "inner" and 0 <= info.value.offset <= len(text)


@FAST
@given(text=b64ish)
def test_outer_layer_rejects_what_binascii_strict_rejects(impl, text):
    try:
        binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error:
        with pytest.raises(CipherError) as info:
            impl.b64decode2(text)
        assert info.value.layer == "outer"


# ---------------------------------------------------------------- twins agree



def _both():
    if "c" not in IMPLS:
        pytest.fail("the compiled twin is not built (run `make build`)")
    return IMPLS["py"], IMPLS["c"]


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=200), b64ish))
def test_twins_agree_on_arbitrary_bytes(data):
    py, c = _both()
    for name, args in (
        ("b64encode2", (data,)),
        ("b64decode2", (data,)),
        ("basic_encrypt", (data,)),
        ("basic_decrypt", (data,)),
        ("seed_open", (data, b"K" * 16)),
    ):
        assert _outcome(getattr(py, name), *args) == _outcome(getattr(c, name), *args), name


@settings(max_examples=200, deadline=None)
@given(plain=st.binary(max_size=64), flips=st.lists(st.integers(0, 1000), max_size=3))
def test_twins_agree_on_damaged_seed_bodies(plain, flips):
    py, c = _both()
    body = bytearray(py.seed_seal(plain, b"K" * 16, iv=b"I" * 16))
    for f in flips:
        body[f % len(body)] ^= 1 << (f % 7)
    body = bytes(body)
    assert _outcome(py.seed_open, body, b"K" * 16) == _outcome(c.seed_open, body, b"K" * 16)
    raw = base64.b64decode(py.seed_seal(plain, b"K" * 16, iv=b"I" * 16))
    ct = raw[16 : 16 + (len(raw) - 16) // 16 * 16]
    cut = bytes(ct[: (flips[0] % (len(ct) + 1)) if flips else len(ct)])
    assert _outcome(py.Seed(b"K" * 16).decrypt_cbc, b"I" * 16, cut) == _outcome(
        c.Seed(b"K" * 16).decrypt_cbc, b"I" * 16, cut
    )


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=100), key=st.binary(max_size=20), iv=st.binary(max_size=20))
def test_twins_agree_on_bad_keys_and_ivs(data, key, iv):
    py, c = _both()
    assert _outcome(py.Seed, key)[0] == _outcome(c.Seed, key)[0]
    assert _outcome(py.seed_seal, data, key, iv) == _outcome(c.seed_seal, data, key, iv)
    assert _outcome(py.basic_encrypt, data, key) == _outcome(c.basic_encrypt, data, key)
    k = b"K" * 16
    assert _outcome(py.Seed(k).encrypt_cbc, iv, data) == _outcome(c.Seed(k).encrypt_cbc, iv, data)
    assert _outcome(py.Seed(k).encrypt_block, data) == _outcome(c.Seed(k).encrypt_block, data)
