# cython: language_level=3
"""Compiled twin of :mod:`lgucore._cipher_py` (docs/protocol.md §5): strict double Base64, the
basic XOR cipher and SEED-128 (RFC 4269) CBC with PKCS#7, plus the §5.2 frame-body wrap.

Behaviour (results, error classes, messages and offsets) is identical to the pure twin; the
tests hold the two against each other, the RFC vectors, OpenSSL and the standard library.

The byte kernels are plain C in the verbatim block below: they run without the GIL on
pointers whose lengths the Cython layer has checked first (bounds checks are off here).
"""
cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy, memset

import os
from math import isqrt

from .errors import CipherError

__all__ = [
    "b64encode2", "b64decode2", "basic_encrypt", "basic_decrypt", "Seed", "seed_seal", "seed_open",
    "DEFAULT_BASIC_KEY", "DEFAULT_SEED_KEY",
]

DEFAULT_BASIC_KEY = b"LGUBaseApi"
DEFAULT_SEED_KEY = b"LGUBaseOpenApi21"

cdef extern from "lgu_seed.h":
    uint32_t lgu_SS[4][256]
    uint16_t lgu_E12[4096]
    uint32_t lgu_D[4][256]
    uint32_t LGU_BAD
    uint32_t lgu_seed_g(uint32_t x) nogil
    void lgu_seed_block(const uint32_t *k, const uint8_t *inp, uint8_t *out) nogil
    void lgu_seed_cbc_enc(const uint32_t *k, uint32_t *chain, const uint8_t *inp, uint8_t *out, size_t nblk) nogil
    void lgu_seed_cbc_dec(const uint32_t *k, const uint8_t *prev, const uint8_t *inp, uint8_t *out, size_t nblk) nogil
    size_t lgu_b64_len(size_t n) nogil
    Py_ssize_t lgu_b64_dlen(const uint8_t *s, size_t n) nogil
    void lgu_b64_encode(const uint8_t *s, size_t n, uint8_t *o) nogil
    int lgu_b64_decode(const uint8_t *s, size_t n, uint8_t *o) nogil
    void lgu_xor(const uint8_t *s, size_t n, const uint8_t *k, size_t kn, uint8_t *o) nogil

cdef enum:
    # Work above this many bytes releases the GIL; below it the release costs more than it frees.
    NOGIL_MIN = 8192
    # Scratch space on the C stack for typical frames; larger inputs use the heap.
    STACK_BUF = 2048

_urandom = os.urandom

# Fresh IVs come from os.urandom in 4 KiB draws: one getrandom() syscall costs more than
# sealing a whole 200-byte event, so 256 IVs share one. Bytes are handed out once, in order,
# under the GIL (the copy and the cursor move run without a Python call between them), and
# the pool is dropped in a forked child so parent and child never share an IV.
cdef enum:
    IV_POOL = 4096
cdef uint8_t _iv_pool[IV_POOL]
cdef Py_ssize_t _iv_pos = IV_POOL


cdef int _fresh_iv(uint8_t* out) except -1:
    global _iv_pos
    cdef bytes fresh
    if _iv_pos + 16 > IV_POOL:
        fresh = _urandom(IV_POOL)  # may release the GIL; the pool is only touched below
        memcpy(_iv_pool, PyBytes_AS_STRING(fresh), IV_POOL)
        _iv_pos = 0
    memcpy(out, _iv_pool + _iv_pos, 16)
    memset(_iv_pool + _iv_pos, 0, 16)
    _iv_pos += 16
    return 0


def _drop_iv_pool():
    global _iv_pos
    memset(_iv_pool, 0, IV_POOL)
    _iv_pos = IV_POOL


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_iv_pool)
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


# --------------------------------------------------------------------------- tables

cdef int _gf_mul(int a, int b):
    """Multiply in GF(2^8) modulo x^8 + x^6 + x^5 + x + 1 (0x163), the field of SEED's S-boxes."""
    cdef int r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= 0x163
    return r


cdef void _init_tables():
    # S-boxes from RFC 4269 / KISA: S1(x) = A1 . x^247 ^ 169, S2(x) = A2 . x^251 ^ 56. Powers
    # come from exp/log tables over a generator; matrix row r (bit r of the output) is the
    # parity of (row mask & input).
    cdef int exp_[255]
    cdef int log_[256]
    cdef int gen = 2, x, i, j, e, bit, k, s
    cdef int a1[8]
    cdef int a2[8]
    cdef int masks[4]
    cdef int sbox[2][256]
    cdef uint32_t w
    for i, v in enumerate((0x14, 0x88, 0x21, 0x45, 0x42, 0x85, 0xFE, 0x8A)):
        a1[i] = v
    for i, v in enumerate((0x14, 0x42, 0x88, 0x8A, 0x21, 0xFE, 0x85, 0x45)):
        a2[i] = v
    for i, v in enumerate((0xFC, 0xF3, 0xCF, 0x3F)):
        masks[i] = v
    while True:  # the smallest generator of the multiplicative group
        x = 1
        for i in range(255):
            exp_[i] = x
            x = _gf_mul(x, gen)
            if x == 1 and i < 254:
                break
        else:
            break
        gen += 1
    for i in range(255):
        log_[exp_[i]] = i
    for x in range(256):
        for k in range(2):
            e = 247 if k == 0 else 251
            s = 0 if x == 0 else exp_[(log_[x] * e) % 255]
            w = 0
            for bit in range(8):
                w |= (_popcount8((a1[bit] if k == 0 else a2[bit]) & s) & 1) << bit
            sbox[k][x] = w ^ (169 if k == 0 else 56)
    # SSk[x]: byte j of G's output takes S(x) & m[(j + k) % 4]; S1 for X0/X2, S2 for X1/X3.
    for k in range(4):
        for x in range(256):
            s = sbox[k & 1][x]
            w = 0
            for j in range(4):
                w |= <uint32_t>(s & masks[(j + k) & 3]) << (8 * j)
            lgu_SS[k][x] = w
    # Base64
    for i in range(4096):
        lgu_E12[i] = _ALPHABET[i >> 6] | (_ALPHABET[i & 63] << 8)  # memory order, little-endian host
    if not _little_endian():
        for i in range(4096):
            lgu_E12[i] = (_ALPHABET[i >> 6] << 8) | _ALPHABET[i & 63]
    for k in range(4):
        for x in range(256):
            lgu_D[k][x] = LGU_BAD
    for i in range(64):
        for k in range(4):
            lgu_D[k][_ALPHABET[i]] = (<uint32_t>i) << (18 - 6 * k)


cdef int _popcount8(int v):
    cdef int c = 0
    while v:
        c += v & 1
        v >>= 1
    return c


cdef bint _little_endian():
    cdef uint32_t one = 1
    return (<uint8_t*>&one)[0] == 1


def _kc_constants():
    # KC0 = floor(2^32 / phi) from the golden ratio, KCi = KC(i-1) <<< 1 (RFC 4269 §2.2).
    phi_num = isqrt(5 << 128) + (1 << 64)        # 2^64 * (1 + sqrt 5), floored
    kc0 = ((1 << 97) // phi_num)                 # 2^32 * 2 / (1 + sqrt 5)
    v = kc0 & 0xFFFFFFFF
    out = [v]
    for _ in range(15):
        v = ((v << 1) | (v >> 31)) & 0xFFFFFFFF
        out.append(v)
    return out


_init_tables()
cdef uint32_t KC[16]
for _i, _v in enumerate(_kc_constants()):
    KC[_i] = _v


# --------------------------------------------------------------------------- buffers

cdef int _acquire(object obj, Py_buffer* view, str what) except -1:
    """Acquire ``obj`` as contiguous bytes into ``view`` (release with PyBuffer_Release).

    Same rules as the pure twin: any bytes-like object; non-contiguous buffers are copied;
    items wider than one byte are refused with ValueError.
    """
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    except (BufferError, ValueError):  # not C-contiguous: copy it like the pure twin does
        mv = memoryview(obj)
        if mv.itemsize != 1:
            raise _itemsize_error(mv, what) from None
        PyObject_GetBuffer(mv.tobytes(), view, PyBUF_SIMPLE)
        return 0
    if view.itemsize != 1:
        PyBuffer_Release(view)
        raise _itemsize_error(memoryview(obj), what)
    return 0


cdef object _itemsize_error(object mv, str what):
    return ValueError(f"{what} must be a buffer of bytes, got items of {mv.itemsize} bytes "
                      f"(format {mv.format!r}); cast it to uint8 first")


cdef inline uint8_t* _scratch(size_t n, uint8_t* stack, uint8_t** heap) except NULL:
    if n <= STACK_BUF:
        return stack
    heap[0] = <uint8_t*>PyMem_Malloc(n)
    if heap[0] == NULL:
        raise MemoryError()
    return heap[0]


# --------------------------------------------------------------------------- Base64

cdef tuple _b64_fault(const uint8_t* s, Py_ssize_t n):
    """``(offset, reason)`` of the first fault of a strict Base64 layer, or ``None``."""
    cdef Py_ssize_t i = 0, j, pad = 0
    cdef uint8_t c
    while i < n and lgu_D[0][s[i]] != LGU_BAD:
        i += 1
    if i < n:
        c = s[i]
        if c != 0x3D:
            return i, f"invalid byte 0x{c:02x}"
        j = i
        while j < n and s[j] == 0x3D:
            j += 1
        if j < n:
            if lgu_D[0][s[j]] != LGU_BAD:
                return j, "data after '=' padding"
            return j, f"invalid byte 0x{s[j]:02x}"
        if n - i > 2:
            return i, "too much '=' padding"
        pad = n - i
    if n % 4:
        return n - n % 4, f"length {n} is not a multiple of 4 (truncated or padding missing)"
    if pad == 2 and lgu_D[3][s[n - 3]] & 0x0F:
        return n - 3, "non-canonical trailing bits before '=='"
    if pad == 1 and lgu_D[3][s[n - 2]] & 0x03:
        return n - 2, "non-canonical trailing bits before '='"
    return None


cdef object _b64_error(const uint8_t* s, Py_ssize_t n, str where, str layer):
    cdef Py_ssize_t a
    fault = _b64_fault(s, n)
    if fault is None:  # cannot happen: the fast decoder and the fault finder disagree
        err = CipherError(f"invalid Base64 ({where}): internal disagreement")
    else:
        off, reason = fault
        a = off
        err = CipherError(f"invalid Base64 ({where}): {reason}", offset=off,
                          excerpt=(<const char*>s)[a:min(a + 4, n)])
    err.layer = layer
    return err


cdef Py_ssize_t _b64_decode_layer(const uint8_t* s, Py_ssize_t n, uint8_t* out, str where, str layer) except -1:
    """Strict-decode one layer into ``out`` (room for lgu_b64_dlen bytes); return its length."""
    cdef Py_ssize_t m = lgu_b64_dlen(s, n)
    cdef int rc = 0
    if m < 0:
        raise _b64_error(s, n, where, layer)
    if n == 0:
        return 0
    if n >= NOGIL_MIN:
        with nogil:
            rc = lgu_b64_decode(s, n, out)
    else:
        rc = lgu_b64_decode(s, n, out)
    if rc:
        raise _b64_error(s, n, where, layer)
    return m


cdef bytes _b64encode2_ptr(const uint8_t* s, size_t n):
    cdef size_t n1 = lgu_b64_len(n)
    cdef size_t n2 = lgu_b64_len(n1)
    cdef uint8_t stack[STACK_BUF]
    cdef uint8_t* heap = NULL
    cdef uint8_t* mid = _scratch(n1, stack, &heap)
    cdef bytes out
    cdef uint8_t* o
    try:
        out = PyBytes_FromStringAndSize(NULL, n2)
        o = <uint8_t*>PyBytes_AS_STRING(out)
        if n >= NOGIL_MIN:
            with nogil:
                lgu_b64_encode(s, n, mid)
                lgu_b64_encode(mid, n1, o)
        else:
            lgu_b64_encode(s, n, mid)
            lgu_b64_encode(mid, n1, o)
        return out
    finally:
        PyMem_Free(heap)


def b64encode2(data) -> bytes:
    """Standard Base64 (RFC 4648, ``=`` padded, no newlines) applied twice.

    >>> b64encode2(b"hi")
    b'YUdrPQ=='
    """
    cdef Py_buffer view
    _acquire(data, &view, "data")
    try:
        return _b64encode2_ptr(<const uint8_t*>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


cdef bytes _b64decode2_ptr(const uint8_t* s, Py_ssize_t n):
    cdef Py_ssize_t m1 = lgu_b64_dlen(s, n), m2
    cdef uint8_t stack[STACK_BUF]
    cdef uint8_t* heap = NULL
    cdef uint8_t* mid
    cdef bytes out
    if m1 < 0:
        raise _b64_error(s, n, "outer layer", "outer")
    mid = _scratch(m1 + 1, stack, &heap)
    try:
        m1 = _b64_decode_layer(s, n, mid, "outer layer", "outer")
        m2 = lgu_b64_dlen(mid, m1)
        if m2 < 0:
            raise _b64_error(mid, m1, "inner layer", "inner")
        out = PyBytes_FromStringAndSize(NULL, m2)
        _b64_decode_layer(mid, m1, <uint8_t*>PyBytes_AS_STRING(out), "inner layer", "inner")
        return out
    finally:
        PyMem_Free(heap)


def b64decode2(data) -> bytes:
    """Strict inverse of :func:`b64encode2`.

    Raises :class:`~lgucore.CipherError` (``.layer`` is ``"outer"`` or ``"inner"``, ``.offset``
    the offset within that layer's text) for any byte outside the alphabet (whitespace
    included), misplaced or excess ``=``, a length that is not a multiple of 4, or
    non-canonical trailing bits, at either layer.
    """
    cdef Py_buffer view
    _acquire(data, &view, "data")
    try:
        return _b64decode2_ptr(<const uint8_t*>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


# --------------------------------------------------------------------------- basic cipher

cdef int _acquire_basic_key(object key, Py_buffer* view) except -1:
    _acquire(key, view, "key")
    if view.len == 0:
        PyBuffer_Release(view)
        raise ValueError("the basic cipher key must not be empty")
    return 0


def basic_encrypt(data, key=DEFAULT_BASIC_KEY) -> bytes:
    """The basic cipher of docs/protocol.md §5.1: ``B64(B64(data XOR key))``.

    The key repeats from the first byte (``data[i] ^ key[i % len(key)]``).

    >>> basic_decrypt(basic_encrypt(b"LOGIN"))
    b'LOGIN'
    """
    cdef Py_buffer dv, kv
    cdef uint8_t stack[STACK_BUF]
    cdef uint8_t* heap = NULL
    cdef uint8_t* x
    _acquire(data, &dv, "data")
    try:
        _acquire_basic_key(key, &kv)
        try:
            x = _scratch(dv.len, stack, &heap)
            lgu_xor(<const uint8_t*>dv.buf, dv.len, <const uint8_t*>kv.buf, kv.len, x)
            return _b64encode2_ptr(x, dv.len)
        finally:
            PyBuffer_Release(&kv)
    finally:
        PyMem_Free(heap)
        PyBuffer_Release(&dv)


def basic_decrypt(body, key=DEFAULT_BASIC_KEY) -> bytes:
    """Inverse of :func:`basic_encrypt`; :class:`~lgucore.CipherError` on a body that is not
    strict Base64 twice over."""
    cdef Py_buffer bv, kv
    cdef bytes out
    cdef uint8_t* o
    _acquire_basic_key(key, &kv)
    try:
        _acquire(body, &bv, "data")
        try:
            out = _b64decode2_ptr(<const uint8_t*>bv.buf, bv.len)
        finally:
            PyBuffer_Release(&bv)
        o = <uint8_t*>PyBytes_AS_STRING(out)  # a fresh object nobody else holds yet
        lgu_xor(o, len(out), <const uint8_t*>kv.buf, kv.len, o)
        return out
    finally:
        PyBuffer_Release(&kv)


# --------------------------------------------------------------------------- SEED

cdef inline uint32_t _be32(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef void _key_schedule(const uint8_t* key, uint32_t* ek, uint32_t* dk) noexcept nogil:
    cdef uint32_t a = _be32(key), b = _be32(key + 4), c = _be32(key + 8), d = _be32(key + 12), t
    cdef int i
    for i in range(16):
        ek[2 * i] = lgu_seed_g(a + c - KC[i])
        ek[2 * i + 1] = lgu_seed_g(b - d + KC[i])
        if i & 1:  # C||D <<<= 8
            t = c
            c = (c << 8) | (d >> 24)
            d = (d << 8) | (t >> 24)
        else:      # A||B >>>= 8
            t = a
            a = (a >> 8) | (b << 24)
            b = (b >> 8) | (t << 24)
    ek[32] = ek[33] = 0
    if dk != NULL:
        for i in range(16):
            dk[2 * i] = ek[30 - 2 * i]
            dk[2 * i + 1] = ek[31 - 2 * i]
        dk[32] = dk[33] = 0


cdef int _check_iv(Py_buffer* v) except -1:
    if v.len != 16:
        n = v.len
        PyBuffer_Release(v)
        raise ValueError(f"a SEED-CBC IV must be 16 bytes, got {n}")
    return 0


cdef void _cbc_encrypt_into(const uint32_t* ek, const uint8_t* iv, const uint8_t* s, size_t n,
                            uint8_t* o) noexcept:
    """CBC(PKCS7(s)) into ``o``, which has room for (n // 16 + 1) * 16 bytes."""
    cdef size_t full = n // 16, rem = n % 16, p = 16 - rem
    cdef uint32_t chain[4]
    cdef uint8_t last[16]
    cdef size_t i
    chain[0] = _be32(iv); chain[1] = _be32(iv + 4); chain[2] = _be32(iv + 8); chain[3] = _be32(iv + 12)
    if n >= NOGIL_MIN:
        with nogil:
            lgu_seed_cbc_enc(ek, chain, s, o, full)
    else:
        lgu_seed_cbc_enc(ek, chain, s, o, full)
    memcpy(last, s + full * 16, rem)
    for i in range(rem, 16):
        last[i] = <uint8_t>p
    lgu_seed_cbc_enc(ek, chain, last, o + full * 16, 1)


cdef bytes _cbc_decrypt(const uint32_t* dk, const uint8_t* iv, const uint8_t* s, Py_ssize_t n):
    """Decrypt whole blocks (checked by the caller) and strip the checked PKCS#7 padding."""
    cdef uint8_t last[16]
    cdef const uint8_t* prev = iv if n == 16 else s + n - 32
    cdef int p, i
    cdef bint bad
    cdef bytes out
    cdef uint8_t* o
    cdef Py_ssize_t keep
    # the last block first: its padding fixes the exact output size
    lgu_seed_cbc_dec(dk, prev, s + n - 16, last, 1)
    p = last[15]
    bad = p < 1 or p > 16
    if not bad:
        for i in range(16 - p, 16):
            bad |= last[i] != p
    if bad:
        raise CipherError("bad PKCS#7 padding after SEED-CBC decryption (wrong key or corrupted body)",
                          offset=n - 16)
    keep = n - p
    out = PyBytes_FromStringAndSize(NULL, keep)
    o = <uint8_t*>PyBytes_AS_STRING(out)
    if n >= NOGIL_MIN:
        with nogil:
            lgu_seed_cbc_dec(dk, iv, s, o, (n - 16) // 16)
    else:
        lgu_seed_cbc_dec(dk, iv, s, o, (n - 16) // 16)
    memcpy(o + n - 16, last, 16 - p)
    return out


@cython.auto_pickle(False)
cdef class Seed:
    """SEED-128 (RFC 4269) under one key, with CBC and PKCS#7 helpers.

    Build it once per key: the key schedule is computed in the constructor.

    >>> s = Seed(bytes(16))
    >>> s.encrypt_block(bytes(range(16))).hex()
    '5ebac6e0054e166819aff1cc6d346cdb'
    >>> s.decrypt_cbc(bytes(16), s.encrypt_cbc(bytes(16), b"abc"))
    b'abc'
    """

    # ek, dk: declared in _cipher_c.pxd (32 round keys + 2 zero words, see lgu_seed_words)

    def __init__(self, key) -> None:
        cdef Py_buffer kv
        _acquire(key, &kv, "key")
        try:
            if kv.len != 16:
                raise ValueError(f"a SEED key must be 16 bytes, got {kv.len}")
            _key_schedule(<const uint8_t*>kv.buf, self.ek, self.dk)
        finally:
            PyBuffer_Release(&kv)

    def __repr__(self) -> str:  # never show the key
        return "<Seed SEED-128 key=<hidden>>"

    def __reduce__(self):
        raise TypeError("Seed objects hold key material and cannot be pickled")

    cdef bytes _block(self, block, const uint32_t* k):
        cdef Py_buffer bv
        cdef bytes out
        _acquire(block, &bv, "block")
        try:
            if bv.len != 16:
                raise CipherError(f"a SEED block must be 16 bytes, got {bv.len}")
            out = PyBytes_FromStringAndSize(NULL, 16)
            lgu_seed_block(k, <const uint8_t*>bv.buf, <uint8_t*>PyBytes_AS_STRING(out))
            return out
        finally:
            PyBuffer_Release(&bv)

    def encrypt_block(self, block) -> bytes:
        """Encrypt one 16-byte block (ECB); :class:`~lgucore.CipherError` on another length."""
        return self._block(block, self.ek)

    def decrypt_block(self, block) -> bytes:
        """Decrypt one 16-byte block (ECB); :class:`~lgucore.CipherError` on another length."""
        return self._block(block, self.dk)

    def encrypt_cbc(self, iv, data) -> bytes:
        """PKCS#7-pad ``data`` and encrypt it in CBC mode (``iv`` 16 bytes, else ValueError)."""
        cdef Py_buffer iv_v, dv
        cdef bytes out
        _acquire(iv, &iv_v, "iv")
        _check_iv(&iv_v)
        try:
            _acquire(data, &dv, "data")
            try:
                out = PyBytes_FromStringAndSize(NULL, (dv.len // 16 + 1) * 16)
                _cbc_encrypt_into(self.ek, <const uint8_t*>iv_v.buf, <const uint8_t*>dv.buf, dv.len,
                                  <uint8_t*>PyBytes_AS_STRING(out))
                return out
            finally:
                PyBuffer_Release(&dv)
        finally:
            PyBuffer_Release(&iv_v)

    def decrypt_cbc(self, iv, data) -> bytes:
        """Decrypt CBC ``data`` and strip its PKCS#7 padding.

        :class:`~lgucore.CipherError` when ``data`` is not a positive number of whole
        16-byte blocks or the padding is wrong (every pad byte is checked).
        """
        cdef Py_buffer iv_v, dv
        cdef Py_ssize_t n
        _acquire(iv, &iv_v, "iv")
        _check_iv(&iv_v)
        try:
            _acquire(data, &dv, "data")
            try:
                n = dv.len
                if n == 0 or n % 16:
                    raise CipherError(f"SEED-CBC ciphertext of {n} bytes is not a positive number of "
                                      f"16-byte blocks", offset=n - n % 16)
                return _cbc_decrypt(self.dk, <const uint8_t*>iv_v.buf, <const uint8_t*>dv.buf, n)
            finally:
                PyBuffer_Release(&dv)
        finally:
            PyBuffer_Release(&iv_v)


cdef object _foreign_seed(object key):
    """A Seed-like object of the other twin (duck-typed), else None."""
    if hasattr(key, "encrypt_cbc") and hasattr(key, "decrypt_cbc"):
        return key
    return None


cdef int _key_into(object key, uint32_t* ek, uint32_t* dk) except -1:
    cdef Py_buffer kv
    _acquire(key, &kv, "key")
    try:
        if kv.len != 16:
            raise ValueError(f"a SEED key must be 16 bytes, got {kv.len}")
        _key_schedule(<const uint8_t*>kv.buf, ek, dk)
    finally:
        PyBuffer_Release(&kv)
    return 0


def seed_seal(plain, key, iv=None) -> bytes:
    """The SEED text-frame body of docs/protocol.md §5.2: ``B64(IV || SEED-CBC(key, IV, PKCS7(plain)))``.

    ``key`` is 16 bytes or a :class:`Seed` (cache one per session); ``iv`` defaults to
    fresh bytes from ``os.urandom`` (drawn 4 KiB at a time, see ``_fresh_iv``).

    >>> seed_seal(b"x", DEFAULT_SEED_KEY, iv=bytes(16))
    b'AAAAAAAAAAAAAAAAAAAAAMpi2SrDFkiUfTXaTD7p1x0='
    """
    cdef uint32_t ek_local[34]
    cdef const uint32_t* ek
    cdef Py_buffer iv_v, pv
    cdef uint8_t stack[STACK_BUF]
    cdef uint8_t* heap = NULL
    cdef uint8_t* raw
    cdef size_t nraw
    if isinstance(key, Seed):
        ek = (<Seed>key).ek
    else:
        other = _foreign_seed(key)
        if other is not None:
            v = _urandom(16) if iv is None else _iv_bytes(iv)
            return _b64encode1(v + other.encrypt_cbc(v, plain))
        _key_into(key, ek_local, NULL)
        ek = ek_local
    if iv is not None:  # else nothing is acquired: a fresh IV goes straight into the scratch block
        _acquire(iv, &iv_v, "iv")
        _check_iv(&iv_v)
    try:
        _acquire(plain, &pv, "data")
        try:
            nraw = 16 + (pv.len // 16 + 1) * 16
            raw = _scratch(nraw, stack, &heap)
            if iv is None:
                _fresh_iv(raw)
            else:
                memcpy(raw, iv_v.buf, 16)
            _cbc_encrypt_into(ek, raw, <const uint8_t*>pv.buf, pv.len, raw + 16)
            return _b64encode1_ptr(raw, nraw)
        finally:
            PyMem_Free(heap)
            PyBuffer_Release(&pv)
    finally:
        if iv is not None:
            PyBuffer_Release(&iv_v)


cdef bytes _iv_bytes(object iv):
    cdef Py_buffer v
    _acquire(iv, &v, "iv")
    _check_iv(&v)
    try:
        return (<char*>v.buf)[:16]
    finally:
        PyBuffer_Release(&v)


cdef bytes _b64encode1_ptr(const uint8_t* s, size_t n):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, lgu_b64_len(n))
    cdef uint8_t* o = <uint8_t*>PyBytes_AS_STRING(out)
    if n >= NOGIL_MIN:
        with nogil:
            lgu_b64_encode(s, n, o)
    else:
        lgu_b64_encode(s, n, o)
    return out


cdef bytes _b64encode1(bytes b):
    return _b64encode1_ptr(<const uint8_t*>PyBytes_AS_STRING(b), len(b))


def seed_open(body, key) -> bytes:
    """Inverse of :func:`seed_seal`.

    :class:`~lgucore.CipherError` on invalid Base64, a body shorter than IV plus one block,
    ciphertext that is not whole blocks, or bad padding.
    """
    cdef uint32_t dk_local[34]
    cdef uint32_t ek_dummy[34]
    cdef const uint32_t* dk = NULL
    cdef Py_buffer bv
    cdef uint8_t stack[STACK_BUF]
    cdef uint8_t* heap = NULL
    cdef uint8_t* raw
    cdef Py_ssize_t m
    other = None
    if isinstance(key, Seed):
        dk = (<Seed>key).dk
    else:
        other = _foreign_seed(key)
        if other is None:
            _key_into(key, ek_dummy, dk_local)
            dk = dk_local
    _acquire(body, &bv, "data")
    try:
        m = lgu_b64_dlen(<const uint8_t*>bv.buf, bv.len)
        if m < 0:
            raise _b64_error(<const uint8_t*>bv.buf, bv.len, "SEED body", "seed")
        raw = _scratch(m + 1, stack, &heap)
        m = _b64_decode_layer(<const uint8_t*>bv.buf, bv.len, raw, "SEED body", "seed")
        if m < 32:
            raise CipherError(f"SEED body of {m} bytes is shorter than an IV plus one block (32)", offset=m)
        if m % 16:
            raise CipherError(f"SEED ciphertext of {m - 16} bytes after the IV is not whole 16-byte blocks",
                              offset=m - m % 16)
        if other is not None:
            return other.decrypt_cbc((<char*>raw)[:16], (<char*>raw)[16:m])
        return _cbc_decrypt(dk, raw, raw + 16, m - 16)
    finally:
        PyMem_Free(heap)
        PyBuffer_Release(&bv)
