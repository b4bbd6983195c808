"""Pure-Python twin of the ciphers of docs/protocol.md §5: strict double Base64, the basic XOR
cipher and SEED-128 (RFC 4269) in CBC mode with PKCS#7 padding.

The compiled twin ``_cipher_c`` must behave identically (same results, same error classes,
same error offsets). Inputs are any bytes-like objects; a buffer whose items are wider than
one byte is refused with ``ValueError``.

>>> b64decode2(b64encode2(b"PING")) == b"PING"
True
>>> seed_open(seed_seal(b"EVENT", DEFAULT_SEED_KEY), DEFAULT_SEED_KEY)
b'EVENT'
"""
from __future__ import annotations

import binascii
import os
import re
import struct
from math import isqrt

from .errors import CipherError

__all__ = [
    "b64encode2", "b64decode2", "basic_encrypt", "basic_decrypt", "Seed", "seed_seal", "seed_open",
    "DEFAULT_BASIC_KEY", "DEFAULT_SEED_KEY",
]

#: The vendor's default key of the basic cipher (docs/protocol.md §5.1).
DEFAULT_BASIC_KEY = b"LGUBaseApi"
#: The vendor's default SEED key (docs/protocol.md §5.2).
DEFAULT_SEED_KEY = b"LGUBaseOpenApi21"

_M32 = 0xFFFFFFFF


# --------------------------------------------------------------------------- buffers

def _bytes_of(data, what: str = "data") -> bytes:
    """``data`` (any bytes-like object of one-byte items) as ``bytes``."""
    if type(data) is bytes:
        return data
    mv = memoryview(data)  # TypeError for str, int, ...
    if mv.itemsize != 1:
        raise ValueError(f"{what} must be a buffer of bytes, got items of {mv.itemsize} bytes "
                         f"(format {mv.format!r}); cast it to uint8 first")
    return mv.tobytes()


# --------------------------------------------------------------------------- Base64

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DECODE = [-1] * 256
for _i, _c in enumerate(_ALPHABET):
    _DECODE[_c] = _i
_NON_ALPHABET = re.compile(rb"[^A-Za-z0-9+/]")
_EQ = 0x3D


def _b64_fault(s: bytes):
    """``(offset, reason)`` of the first fault of one strict Base64 layer, or ``None``.

    Strict means: alphabet bytes only, length a multiple of 4, at most two ``=`` and only
    at the very end, and zero bits where padding leaves bits unused (canonical form).
    """
    n = len(s)
    pad = 0
    m = _NON_ALPHABET.search(s)
    if m is not None:
        i = m.start()
        if s[i] != _EQ:
            return i, f"invalid byte 0x{s[i]:02x}"
        j = i
        while j < n and s[j] == _EQ:
            j += 1
        if j < n:
            if _DECODE[s[j]] >= 0:
                return j, "data after '=' padding"
            return j, f"invalid byte 0x{s[j]:02x}"
        if n - i > 2:
            return i, "too much '=' padding"
        pad = n - i
    if n % 4:
        return n - n % 4, f"length {n} is not a multiple of 4 (truncated or padding missing)"
    if pad == 2 and _DECODE[s[n - 3]] & 0x0F:
        return n - 3, "non-canonical trailing bits before '=='"
    if pad == 1 and _DECODE[s[n - 2]] & 0x03:
        return n - 2, "non-canonical trailing bits before '='"
    return None


def _b64_error(s: bytes, where: str, layer: str, fallback: str = "") -> CipherError:
    fault = _b64_fault(s)
    if fault is None:  # binascii refused what our validator accepts: still an error
        err = CipherError(f"invalid Base64 ({where}): {fallback}")
    else:
        off, reason = fault
        err = CipherError(f"invalid Base64 ({where}): {reason}", offset=off, excerpt=s[off:off + 4])
    err.layer = layer
    return err


def _b64decode(s: bytes, where: str, layer: str) -> bytes:
    """One strict Base64 layer (see :func:`_b64_fault`)."""
    try:
        out = binascii.a2b_base64(s, strict_mode=True)
    except binascii.Error as exc:
        raise _b64_error(s, where, layer, str(exc)) from None
    # binascii's strict mode lets through non-canonical trailing bits and a stray '=' after a
    # whole quad; a strict text is exactly the encoding of what it decodes to.
    if _b64encode(out) != s:
        raise _b64_error(s, where, layer, "not in canonical form")
    return out


def _b64encode(b: bytes) -> bytes:
    return binascii.b2a_base64(b, newline=False)


def b64encode2(data) -> bytes:
    """Standard Base64 (RFC 4648, ``=`` padded, no newlines) applied twice.

    >>> b64encode2(b"hi")
    b'YUdrPQ=='
    """
    return _b64encode(_b64encode(_bytes_of(data)))


def b64decode2(data) -> bytes:
    """Strict inverse of :func:`b64encode2`.

    Raises :class:`~lgucore.CipherError` (``.layer`` is ``"outer"`` or ``"inner"``, ``.offset``
    the offset within that layer's text) for any byte outside the alphabet (whitespace
    included), misplaced or excess ``=``, a length that is not a multiple of 4, or
    non-canonical trailing bits, at either layer.
    """
    s = _bytes_of(data)
    inner = _b64decode(s, "outer layer", "outer")
    return _b64decode(inner, "inner layer", "inner")


# --------------------------------------------------------------------------- basic cipher

def _xor(data: bytes, key: bytes) -> bytes:
    n = len(data)
    if not n:
        return b""
    reps = -(-n // len(key))
    stream = (key * reps)[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def _basic_key(key) -> bytes:
    k = _bytes_of(key, "key")
    if not k:
        raise ValueError("the basic cipher key must not be empty")
    return k


def basic_encrypt(data, key=DEFAULT_BASIC_KEY) -> bytes:
    """The basic cipher of docs/protocol.md §5.1: ``B64(B64(data XOR key))``.

    The key repeats from the first byte (``data[i] ^ key[i % len(key)]``).

    >>> basic_decrypt(basic_encrypt(b"LOGIN"))
    b'LOGIN'
    """
    return b64encode2(_xor(_bytes_of(data), _basic_key(key)))


def basic_decrypt(body, key=DEFAULT_BASIC_KEY) -> bytes:
    """Inverse of :func:`basic_encrypt`; :class:`~lgucore.CipherError` on a body that is not
    strict Base64 twice over."""
    k = _basic_key(key)
    return _xor(b64decode2(body), k)


# --------------------------------------------------------------------------- SEED tables

# RFC 4269 / KISA: S1(x) = A1 . x^247 + 169 and S2(x) = A2 . x^251 + 56 over GF(2^8) modulo
# x^8 + x^6 + x^5 + x + 1. Each matrix row gives one output bit (row 0 = least significant);
# its string lists the input bits 0..7 that the row sums.
_POLY = 0x163
_A1 = ("00101000", "00010001", "10000100", "10100010", "01000010", "10100001", "01111111", "01010001")
_A2 = ("00101000", "01000010", "00010001", "01010001", "10000100", "01111111", "10100001", "10100010")
_MASKS = (0xFC, 0xF3, 0xCF, 0x3F)  # m0..m3 of the G function


def _gf_mul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= _POLY
    return r


def _gf_pow(a: int, e: int) -> int:
    r = 1
    while e:
        if e & 1:
            r = _gf_mul(r, a)
        a = _gf_mul(a, a)
        e >>= 1
    return r


def _affine(rows, x: int, c: int) -> int:
    out = 0
    for bit, row in enumerate(rows):
        mask = sum(1 << j for j, ch in enumerate(row) if ch == "1")
        out |= (bin(mask & x).count("1") & 1) << bit
    return out ^ c


def _sboxes():
    s1 = [_affine(_A1, _gf_pow(x, 247), 169) for x in range(256)]
    s2 = [_affine(_A2, _gf_pow(x, 251), 56) for x in range(256)]
    return s1, s2


def _ss_tables(s1, s2):
    """SS0..SS3: G(X) = SS0[X0] ^ SS1[X1] ^ SS2[X2] ^ SS3[X3] (X0 the low byte).

    Byte j of the output Z takes ``S(Xk) & m[(j + k) % 4]``, S = S1 for even k, S2 for odd k.
    """
    tables = []
    for k in range(4):
        s = s1 if k % 2 == 0 else s2
        tables.append(tuple(
            sum((s[x] & _MASKS[(j + k) % 4]) << (8 * j) for j in range(4)) for x in range(256)
        ))
    return tables


def _kc_constants():
    """KC0 = floor(2^32 * (sqrt(5) - 1) / 2) (the golden ratio), KCi = KC(i-1) <<< 1."""
    kc = [(isqrt(5 << 64) - (1 << 32)) // 2]
    for _ in range(15):
        v = kc[-1]
        kc.append(((v << 1) | (v >> 31)) & _M32)
    return tuple(kc)


S1, S2 = _sboxes()
SS0, SS1, SS2, SS3 = _ss_tables(S1, S2)
KC = _kc_constants()


def _g(x: int) -> int:
    return SS0[x & 0xFF] ^ SS1[(x >> 8) & 0xFF] ^ SS2[(x >> 16) & 0xFF] ^ SS3[x >> 24]


def _key_schedule(key: bytes):
    a, b, c, d = struct.unpack(">4I", key)
    rk = []
    for i in range(16):
        rk.append(_g((a + c - KC[i]) & _M32))
        rk.append(_g((b - d + KC[i]) & _M32))
        if i % 2 == 0:  # A||B >>>= 8
            a, b = ((a >> 8) | (b << 24)) & _M32, ((b >> 8) | (a << 24)) & _M32
        else:  # C||D <<<= 8
            c, d = ((c << 8) | (d >> 24)) & _M32, ((d << 8) | (c >> 24)) & _M32
    return tuple(rk)


def _crypt(rk, l0: int, l1: int, r0: int, r1: int):
    """16 Feistel rounds over the words of one block; ``rk`` in application order."""
    g = _g
    for i in range(0, 32, 2):
        c = r0 ^ rk[i]
        d = (r1 ^ rk[i + 1]) ^ c
        d = g(d)
        c = g((c + d) & _M32)
        d = g((d + c) & _M32)
        c = (c + d) & _M32
        l0, l1, r0, r1 = r0, r1, l0 ^ c, l1 ^ d
    return r0, r1, l0, l1


def _as_seed(key) -> "Seed":
    if isinstance(key, Seed):
        return key
    if hasattr(key, "encrypt_cbc") and hasattr(key, "decrypt_cbc"):  # the other twin's Seed
        return key
    return Seed(key)


_BLOCK = struct.Struct(">4I")


class Seed:
    """SEED-128 (RFC 4269) under one key, with CBC and PKCS#7 helpers.

    Build it once per key: the key schedule is computed in the constructor.

    >>> s = Seed(bytes(16))
    >>> s.encrypt_block(bytes(range(16))).hex()
    '5ebac6e0054e166819aff1cc6d346cdb'
    >>> s.decrypt_cbc(bytes(16), s.encrypt_cbc(bytes(16), b"abc"))
    b'abc'
    """

    __slots__ = ("_enc", "_dec")

    def __init__(self, key) -> None:
        k = _bytes_of(key, "key")
        if len(k) != 16:
            raise ValueError(f"a SEED key must be 16 bytes, got {len(k)}")
        enc = _key_schedule(k)
        self._enc = enc
        self._dec = tuple(x for i in range(30, -2, -2) for x in (enc[i], enc[i + 1]))

    def __repr__(self) -> str:  # never show the key
        return "<Seed SEED-128 key=<hidden>>"

    def __reduce__(self):
        raise TypeError("Seed objects hold key material and cannot be pickled")

    @staticmethod
    def _block(data, what: str) -> bytes:
        b = _bytes_of(data, what)
        if len(b) != 16:
            raise CipherError(f"a SEED {what} must be 16 bytes, got {len(b)}")
        return b

    def encrypt_block(self, block) -> bytes:
        """Encrypt one 16-byte block (ECB); :class:`~lgucore.CipherError` on another length."""
        return _BLOCK.pack(*_crypt(self._enc, *_BLOCK.unpack(self._block(block, "block"))))

    def decrypt_block(self, block) -> bytes:
        """Decrypt one 16-byte block (ECB); :class:`~lgucore.CipherError` on another length."""
        return _BLOCK.pack(*_crypt(self._dec, *_BLOCK.unpack(self._block(block, "block"))))

    def encrypt_cbc(self, iv, data) -> bytes:
        """PKCS#7-pad ``data`` and encrypt it in CBC mode (``iv`` 16 bytes, else ValueError)."""
        v = _iv_of(iv)
        b = _bytes_of(data)
        p = 16 - len(b) % 16
        b += bytes((p,)) * p
        rk = self._enc
        x0, x1, x2, x3 = _BLOCK.unpack(v)
        out = []
        unpack = _BLOCK.unpack_from
        pack = _BLOCK.pack
        for off in range(0, len(b), 16):
            p0, p1, p2, p3 = unpack(b, off)
            x0, x1, x2, x3 = _crypt(rk, x0 ^ p0, x1 ^ p1, x2 ^ p2, x3 ^ p3)
            out.append(pack(x0, x1, x2, x3))
        return b"".join(out)

    def decrypt_cbc(self, iv, data) -> bytes:
        """Decrypt CBC ``data`` and strip its PKCS#7 padding.

        :class:`~lgucore.CipherError` when ``data`` is not a positive number of whole
        16-byte blocks or the padding is wrong (every pad byte is checked).
        """
        v = _iv_of(iv)
        b = _bytes_of(data)
        n = len(b)
        if n == 0 or n % 16:
            raise CipherError(f"SEED-CBC ciphertext of {n} bytes is not a positive number of 16-byte blocks",
                              offset=n - n % 16)
        rk = self._dec
        x0, x1, x2, x3 = _BLOCK.unpack(v)
        out = []
        unpack = _BLOCK.unpack_from
        pack = _BLOCK.pack
        for off in range(0, n, 16):
            c0, c1, c2, c3 = unpack(b, off)
            p0, p1, p2, p3 = _crypt(rk, c0, c1, c2, c3)
            out.append(pack(p0 ^ x0, p1 ^ x1, p2 ^ x2, p3 ^ x3))
            x0, x1, x2, x3 = c0, c1, c2, c3
        plain = b"".join(out)
        return plain[: n - _pad_len(plain)]


def _iv_of(iv) -> bytes:
    v = _bytes_of(iv, "iv")
    if len(v) != 16:
        raise ValueError(f"a SEED-CBC IV must be 16 bytes, got {len(v)}")
    return v


def _pad_len(plain: bytes) -> int:
    """The PKCS#7 pad length of decrypted ``plain`` (its excerpt never shows plain text)."""
    n = len(plain)
    p = plain[-1]
    if not 1 <= p <= 16 or plain[n - p:] != bytes((p,)) * p:
        raise CipherError("bad PKCS#7 padding after SEED-CBC decryption (wrong key or corrupted body)",
                          offset=n - 16)
    return p


# --------------------------------------------------------------------------- frame body wrap

def seed_seal(plain, key, iv=None) -> bytes:
    """The SEED text-frame body of docs/protocol.md §5.2: ``B64(IV || SEED-CBC(key, IV, PKCS7(plain)))``.

    ``key`` is 16 bytes or a :class:`Seed` (cache one per session); ``iv`` defaults to
    ``os.urandom(16)``.

    >>> seed_seal(b"x", DEFAULT_SEED_KEY, iv=bytes(16))
    b'AAAAAAAAAAAAAAAAAAAAAMpi2SrDFkiUfTXaTD7p1x0='
    """
    s = _as_seed(key)
    v = os.urandom(16) if iv is None else _iv_of(iv)
    return _b64encode(v + s.encrypt_cbc(v, plain))


def seed_open(body, key) -> bytes:
    """Inverse of :func:`seed_seal`.

    :class:`~lgucore.CipherError` on invalid Base64, a body shorter than IV plus one block,
    ciphertext that is not whole blocks, or bad padding.
    """
    s = _as_seed(key)
    raw = _b64decode(_bytes_of(body), "SEED body", "seed")
    n = len(raw)
    if n < 32:
        raise CipherError(f"SEED body of {n} bytes is shorter than an IV plus one block (32)", offset=n)
    if n % 16:
        raise CipherError(f"SEED ciphertext of {n - 16} bytes after the IV is not whole 16-byte blocks",
                          offset=n - n % 16)
    return s.decrypt_cbc(raw[:16], raw[16:])
