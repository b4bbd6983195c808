"""Ciphers of docs/protocol.md §5 on both twins: RFC 4269 vectors, OpenSSL, the standard library.

Property tests (hypothesis) live in ``test_cipher_props.py``.
"""
from __future__ import annotations

import array
import base64
import binascii
import os
import pickle
import random

import numpy as np
import pytest

from lgucore import CipherError, ProtocolError
from lgucore import _cipher_py

# ---------------------------------------------------------------- the OpenSSL oracle


def _openssl_seed():
    """OpenSSL's SEED through ``cryptography`` (a test-only dependency), or fail loudly."""
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import SEED
    except ImportError:  # cryptography < 43
        from cryptography.hazmat.primitives.ciphers.algorithms import SEED
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    try:
        Cipher(SEED(bytes(16)), modes.ECB()).encryptor()
    except UnsupportedAlgorithm as exc:  # pragma: no cover - depends on the OpenSSL build
        pytest.fail(
            "OpenSSL in this `cryptography` build has no SEED (it lives in the OpenSSL legacy "
            f"provider); the SEED oracle tests cannot run: {exc}"
        )

    class Oracle:
        @staticmethod
        def ecb(key, block, decrypt=False):
            c = Cipher(SEED(key), modes.ECB())
            ctx = c.decryptor() if decrypt else c.encryptor()
            return ctx.update(block) + ctx.finalize()

        @staticmethod
        def cbc_encrypt(key, iv, plain):
            p = 16 - len(plain) % 16
            ctx = Cipher(SEED(key), modes.CBC(iv)).encryptor()
            return ctx.update(plain + bytes((p,)) * p) + ctx.finalize()

        @staticmethod
        def cbc_decrypt_raw(key, iv, ct):
            ctx = Cipher(SEED(key), modes.CBC(iv)).decryptor()
            return ctx.update(ct) + ctx.finalize()

    return Oracle


@pytest.fixture(scope="module")
def openssl():
    return _openssl_seed()


# ---------------------------------------------------------------- SEED: RFC 4269 Appendix B

RFC4269 = [
    ("00000000000000000000000000000000", "000102030405060708090a0b0c0d0e0f", "5ebac6e0054e166819aff1cc6d346cdb"),
    ("000102030405060708090a0b0c0d0e0f", "00000000000000000000000000000000", "c11f22f20140505084483597e4370f43"),
    ("4706480851e61be85d74bfb3fd956185", "83a2f8a288641fb9a4e9a5cc2f131c7d", "ee54d13ebcae706d226bc3142cd40d4a"),
    ("28dbc3bc49ffd87dcfa509b11d422be7", "b41e6be2eba84a148e2eed84593c5ec7", "9b9b7bfcd1813cb95d0b3618f40f5122"),
]


@pytest.mark.parametrize("key,plain,cipher", RFC4269, ids=["B.1", "B.2", "B.3", "B.4"])
def test_rfc4269_vectors(impl, key, plain, cipher):
    s = impl.Seed(bytes.fromhex(key))
    assert s.encrypt_block(bytes.fromhex(plain)).hex() == cipher
    assert s.decrypt_block(bytes.fromhex(cipher)).hex() == plain


def test_derived_tables_are_the_standard_ones():
    # The pure twin derives S1/S2 from their GF(2^8) definition and KC from the golden
    # ratio; the RFC vectors prove the whole, these pin the pieces.
    assert sorted(_cipher_py.S1) == list(range(256)) and sorted(_cipher_py.S2) == list(range(256))
    assert (_cipher_py.S1[0], _cipher_py.S2[0]) == (169, 56)  # the affine constants
    assert _cipher_py.KC[0] == 0x9E3779B9
    ss = (_cipher_py.SS0, _cipher_py.SS1, _cipher_py.SS2, _cipher_py.SS3)
    for k, table in enumerate(ss):  # every SS entry keeps all 8 bits of its S-box byte once
        sbox = _cipher_py.S1 if k % 2 == 0 else _cipher_py.S2
        for x in (0, 1, 0x5A, 0xFF):
            w = table[x]
            assert (w | w >> 8 | w >> 16 | w >> 24) & 0xFF == sbox[x]


def test_differential_against_openssl(impl, openssl):
    rng = random.Random(0x5EED)
    for i in range(1000):
        key, iv = rng.randbytes(16), rng.randbytes(16)
        n = rng.randrange(0, 80) if i % 10 else rng.randrange(80, 3000)
        plain = rng.randbytes(n)
        s = impl.Seed(key)
        ct = s.encrypt_cbc(iv, plain)
        assert ct == openssl.cbc_encrypt(key, iv, plain), (i, n)
        assert s.decrypt_cbc(iv, ct) == plain
        block = plain[:16].ljust(16, b"\x00")
        assert s.encrypt_block(block) == openssl.ecb(key, block)
        assert s.decrypt_block(block) == openssl.ecb(key, block, decrypt=True)


def test_seal_is_openssl_cbc_under_base64(impl, openssl):
    rng = random.Random(7)
    for _ in range(200):
        key, plain = rng.randbytes(16), rng.randbytes(rng.randrange(0, 300))
        body = impl.seed_seal(plain, key)
        raw = base64.b64decode(body, validate=True)
        iv, ct = raw[:16], raw[16:]
        assert ct == openssl.cbc_encrypt(key, iv, plain)
        assert impl.seed_open(body, key) == plain
        assert impl.seed_open(body, impl.Seed(key)) == plain


def test_seal_default_key_and_fixed_iv(impl, openssl):
    body = impl.seed_seal(b"RING CALLER:0101234567", impl.DEFAULT_SEED_KEY, iv=bytes(range(16)))
    expect = base64.b64encode(bytes(range(16)) + openssl.cbc_encrypt(b"LGUBaseOpenApi21", bytes(range(16)),
                                                                      b"RING CALLER:0101234567"))
    assert body == expect
    assert impl.DEFAULT_SEED_KEY == b"LGUBaseOpenApi21" and impl.DEFAULT_BASIC_KEY == b"LGUBaseApi"


def test_seal_uses_a_fresh_iv_each_time(impl):
    s = impl.Seed(impl.DEFAULT_SEED_KEY)
    ivs = {base64.b64decode(impl.seed_seal(b"same", s))[:16] for _ in range(2000)}
    assert len(ivs) == 2000


def test_forked_child_never_repeats_the_parents_iv(impl):
    s = impl.Seed(impl.DEFAULT_SEED_KEY)
    impl.seed_seal(b"warm up any IV pool", s)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the next IV and leave without running pytest's teardown
        try:
            os.write(w, base64.b64decode(impl.seed_seal(b"x", s))[:16])
        finally:
            os._exit(0)
    os.close(w)
    child_iv = os.read(r, 16)
    os.close(r)
    os.waitpid(pid, 0)
    parent_iv = base64.b64decode(impl.seed_seal(b"x", s))[:16]
    assert len(child_iv) == 16 and child_iv != parent_iv


def test_seed_accepts_the_other_twins_key_object():
    import lgucore

    impls = lgucore.implementations()
    for a in impls.values():
        for b in impls.values():
            body = a.seed_seal(b"cross", b.Seed(b"k" * 16))
            assert b.seed_open(body, a.Seed(b"k" * 16)) == b"cross"


def test_seed_repr_and_pickle_never_leak_the_key(impl):
    key = b"SECRET-KEY-16byt"
    s = impl.Seed(key)
    text = repr(s) + str(s)
    for leak in (key.decode(), key.hex(), repr(key)):
        assert leak not in text
    with pytest.raises(TypeError):
        pickle.dumps(s)


# ---------------------------------------------------------------- SEED: bad input

@pytest.mark.parametrize("n", [0, 1, 15, 17, 32])
def test_seed_key_must_be_16_bytes(impl, n):
    with pytest.raises(ValueError, match="16 bytes"):
        impl.Seed(bytes(n))
    with pytest.raises(ValueError, match="16 bytes"):
        impl.seed_seal(b"x", bytes(n))
    with pytest.raises(ValueError, match="16 bytes"):
        impl.seed_open(base64.b64encode(bytes(32)), bytes(n))


@pytest.mark.parametrize("n", [0, 15, 17, 32])
def test_seed_block_and_iv_lengths(impl, n):
    s = impl.Seed(bytes(16))
    with pytest.raises(CipherError):
        s.encrypt_block(bytes(n))
    with pytest.raises(CipherError):
        s.decrypt_block(bytes(n))
    with pytest.raises(ValueError, match="IV"):
        s.encrypt_cbc(bytes(n), b"data")
    with pytest.raises(ValueError, match="IV"):
        s.decrypt_cbc(bytes(n), bytes(16))
    with pytest.raises(ValueError, match="IV"):
        impl.seed_seal(b"x", bytes(16), iv=bytes(n))


@pytest.mark.parametrize("n", [0, 1, 15, 17, 31, 33, 100])
def test_decrypt_cbc_needs_whole_blocks(impl, n):
    with pytest.raises(CipherError, match="16-byte blocks") as info:
        impl.Seed(bytes(16)).decrypt_cbc(bytes(16), bytes(n))
    assert info.value.offset == n - n % 16


def _pad_cases():
    """(plain blocks without padding, why it is bad) for every pad length and position."""
    base = bytes(range(100, 116))
    yield base[:15] + b"\x00", "pad byte 0"
    yield base[:15] + b"\x11", "pad byte 17"
    yield base[:15] + b"\xff", "pad byte 255"
    for p in range(2, 17):
        for pos in range(16 - p, 15):  # corrupt each pad byte but the last in turn
            block = bytearray(base[: 16 - p] + bytes((p,)) * p)
            block[pos] ^= 0x40
            yield bytes(block), f"pad {p}, byte {pos} wrong"


def test_every_pad_byte_is_checked(impl, openssl):
    key, iv = b"K" * 16, b"I" * 16
    s = impl.Seed(key)
    for block, why in _pad_cases():
        for prefix in (b"", b"P" * 16, b"Q" * 48):
            ct = openssl.cbc_encrypt(key, iv, prefix + block)[:-16]  # drop OpenSSL's own pad block
            with pytest.raises(CipherError, match="padding"):
                s.decrypt_cbc(iv, ct)
            body = base64.b64encode(iv + ct)
            with pytest.raises(CipherError, match="padding") as info:
                impl.seed_open(body, key)
            assert info.value.excerpt == b"", why  # decrypted bytes never reach the error


def test_seed_open_rejects_short_and_ragged_bodies(impl):
    key = impl.DEFAULT_SEED_KEY
    for n in (0, 1, 15, 16, 17, 31):
        with pytest.raises(CipherError, match="shorter than an IV plus one block"):
            impl.seed_open(base64.b64encode(bytes(n)), key)
    for n in (33, 47, 50, 63):
        with pytest.raises(CipherError, match="not whole 16-byte blocks"):
            impl.seed_open(base64.b64encode(bytes(n)), key)
    for bad in (b"not base64!", b"AAAA AAAA", b"AAA", b"A===" * 12):
        with pytest.raises(CipherError, match="Base64") as info:
            impl.seed_open(bad, key)
        assert info.value.layer == "seed"


def test_wrong_key_is_a_clean_error_or_clean_bytes(impl):
    # A wrong key gives random padding: almost always CipherError, never a crash or a hang.
    rng = random.Random(11)
    errors = 0
    for _ in range(300):
        body = impl.seed_seal(rng.randbytes(rng.randrange(0, 64)), rng.randbytes(16))
        try:
            out = impl.seed_open(body, rng.randbytes(16))
        except CipherError:
            errors += 1
        else:
            assert isinstance(out, bytes)
    assert errors > 250


def test_megabytes_of_random_bytes(impl):
    rng = np.random.default_rng(2024)
    junk = rng.integers(0, 256, 2 << 20, dtype=np.uint8).tobytes()
    for fn in (impl.b64decode2, impl.basic_decrypt, lambda b: impl.seed_open(b, bytes(16))):
        with pytest.raises(CipherError):
            fn(junk)
    # valid Base64 of random bytes: the length or the padding gives it away
    body = base64.b64encode(junk[: (1 << 20) + 5])
    with pytest.raises(CipherError, match="not whole"):
        impl.seed_open(body, bytes(16))
    with pytest.raises(CipherError, match="inner"):
        impl.b64decode2(body)
    with pytest.raises(CipherError):
        impl.Seed(bytes(16)).decrypt_cbc(bytes(16), junk[:-1])


# ---------------------------------------------------------------- bytes-like inputs

def _views(data: bytes):
    yield data
    yield bytearray(data)
    yield memoryview(data)
    yield np.frombuffer(data, dtype=np.uint8)
    yield array.array("B", data)
    doubled = np.frombuffer(bytes(b for x in data for b in (x, 0)), dtype=np.uint8)
    yield doubled[::2]  # not contiguous: copied
    yield memoryview(data).toreadonly()


def test_any_bytes_like_input(impl):
    plain = bytes(range(256)) * 3
    key = bytes(range(16))
    body = impl.seed_seal(plain, key, iv=bytes(16))
    b64 = impl.b64encode2(plain)
    basic = impl.basic_encrypt(plain, b"0123456789")
    for v in _views(plain):
        assert impl.b64encode2(v) == b64
        assert impl.basic_encrypt(v, b"0123456789") == basic
        assert impl.seed_seal(v, key, iv=bytes(16)) == body
        assert impl.Seed(key).encrypt_cbc(bytes(16), v) == impl.Seed(key).encrypt_cbc(bytes(16), plain)
    for v in _views(body):
        assert impl.seed_open(v, key) == plain
    for v in _views(b64):
        assert impl.b64decode2(v) == plain
    for v in _views(basic):
        assert impl.basic_decrypt(v, b"0123456789") == plain
    for v in _views(key):
        assert impl.seed_open(body, v) == plain
        assert impl.seed_seal(plain, v, iv=bytearray(16)) == body


def test_wide_items_and_non_buffers_are_refused(impl):
    wide = [np.arange(8, dtype=np.int32), array.array("i", [1, 2, 3, 4]), memoryview(bytes(16)).cast("I")]
    for w in wide:
        for fn in (impl.b64encode2, impl.b64decode2, impl.basic_encrypt, impl.basic_decrypt,
                   lambda d: impl.seed_seal(d, bytes(16)), lambda d: impl.seed_open(d, bytes(16)),
                   impl.Seed, lambda d: impl.Seed(bytes(16)).encrypt_cbc(bytes(16), d)):
            with pytest.raises(ValueError, match="buffer of bytes"):
                fn(w)
    for bad in ("text", 42, None, [1, 2]):
        for fn in (impl.b64encode2, impl.b64decode2, impl.basic_encrypt, impl.Seed):
            with pytest.raises(TypeError):
                fn(bad)


# ---------------------------------------------------------------- Base64, twice

def test_b64_matches_the_standard_library(impl):
    rng = random.Random(3)
    for n in list(range(0, 70)) + [255, 256, 257, 1000, 4096, 9000, 65536]:
        data = rng.randbytes(n)
        twice = base64.b64encode(base64.b64encode(data))
        assert impl.b64encode2(data) == twice
        assert impl.b64decode2(twice) == data


def test_b64_known_answers(impl):
    assert impl.b64encode2(b"") == b""
    assert impl.b64encode2(b"hi") == b"YUdrPQ=="
    assert impl.b64decode2(b"YUdrPQ==") == b"hi"
    assert impl.b64decode2(b"") == b""


# (outer text, reason fragment, offset) — all at the outer layer
OUTER_BAD = [
    (b"QUJD\n", "invalid byte 0x0a", 4),
    (b"QU JD", "invalid byte 0x20", 2),
    (b" QUJD", "invalid byte 0x20", 0),
    (b"QUJD\r\n", "invalid byte 0x0d", 4),
    (b"QUJ-", "invalid byte 0x2d", 3),          # URL-safe alphabet is not ours
    (b"QUJ_", "invalid byte 0x5f", 3),
    (b"QUJ\x00", "invalid byte 0x00", 3),
    (b"QUJ\xff", "invalid byte 0xff", 3),
    (b"QU=D", "data after '=' padding", 3),     # '=' in the middle
    (b"QQ==QUJD", "data after '=' padding", 4),  # two encodings glued
    (b"Q===", "too much '=' padding", 1),
    (b"====", "too much '=' padding", 0),
    (b"QUJDQ===", "too much '=' padding", 5),
    (b"QUJ", "not a multiple of 4", 0),           # missing padding
    (b"QQ", "not a multiple of 4", 0),
    (b"QUJDQ", "not a multiple of 4", 4),
    (b"QQ=", "not a multiple of 4", 0),
    (b"QUJD=", "not a multiple of 4", 4),        # a stray '=' after a whole quad (binascii takes it)
    (b"QUJD==", "not a multiple of 4", 4),
    (b"QUJDQQ===", "too much '=' padding", 6),  # extra padding
    (b"QR==", "non-canonical trailing bits", 1),  # 'R' leaves bits in the pad
    (b"QUK=", "non-canonical trailing bits", 2),
    (b"QUJDQUJDQUL=", "non-canonical trailing bits", 10),
    (b"QQ==\n", "invalid byte 0x0a", 4),
    (b"QQ=\n", "invalid byte 0x0a", 3),
]


@pytest.mark.parametrize("text,reason,offset", OUTER_BAD, ids=[repr(t) for t, _, _ in OUTER_BAD])
def test_b64_rejects_at_the_outer_layer(impl, text, reason, offset):
    with pytest.raises(CipherError, match=reason) as info:
        impl.b64decode2(text)
    err = info.value
    assert isinstance(err, ProtocolError) and isinstance(err, ValueError)
    assert err.layer == "outer" and err.offset == offset
    assert "outer layer" in str(err)
    with pytest.raises(CipherError):
        impl.basic_decrypt(text)


@pytest.mark.parametrize("text,reason,offset", OUTER_BAD, ids=[repr(t) for t, _, _ in OUTER_BAD])
def test_b64_rejects_at_the_inner_layer(impl, text, reason, offset):
    outer = base64.b64encode(text)  # a valid outer layer around a broken inner one
    with pytest.raises(CipherError, match=reason) as info:
        impl.b64decode2(outer)
    assert info.value.layer == "inner" and info.value.offset == offset
    assert "inner layer" in str(info.value)


@pytest.mark.parametrize("text,reason,offset", OUTER_BAD, ids=[repr(t) for t, _, _ in OUTER_BAD])
def test_strictness_matches_binascii_strict_mode(text, reason, offset):
    # Our rule = binascii's strict mode, plus: the text is the canonical encoding of what it
    # decodes to (binascii lets non-canonical trailing bits and a stray '=' through).
    try:
        decoded = binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error:
        return
    assert base64.b64encode(decoded) != text


def test_basic_cipher_definition(impl):
    plain = "RING CALLER:01012345678 CALLED:3456".encode()
    key = b"LGUBaseApi"
    xored = bytes(b ^ key[i % 10] for i, b in enumerate(plain))
    expect = base64.b64encode(base64.b64encode(xored))
    assert impl.basic_encrypt(plain) == expect
    assert impl.basic_encrypt(plain, key) == expect
    assert impl.basic_decrypt(expect) == plain
    other = b"k3y"
    xored = bytes(b ^ other[i % 3] for i, b in enumerate(plain))
    assert impl.basic_encrypt(plain, other) == base64.b64encode(base64.b64encode(xored))
    assert impl.basic_encrypt(b"") == b"" and impl.basic_decrypt(b"") == b""


def test_basic_cipher_empty_key(impl):
    with pytest.raises(ValueError, match="empty"):
        impl.basic_encrypt(b"x", b"")
    with pytest.raises(ValueError, match="empty"):
        impl.basic_decrypt(b"", b"")


def test_large_inputs_round_trip(impl):
    # past the compiled twin's stack scratch and GIL-release thresholds
    rng = random.Random(5)
    for n in (2047, 2048, 2049, 6143, 8191, 8192, 8193, 20_003):
        data = rng.randbytes(n)
        assert impl.b64decode2(impl.b64encode2(data)) == data
        assert impl.basic_decrypt(impl.basic_encrypt(data, b"key"), b"key") == data
        assert impl.seed_open(impl.seed_seal(data, b"k" * 16), b"k" * 16) == data
