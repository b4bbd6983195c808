"""Benchmarks of the ciphers (docs/protocol.md §5): SEED-CBC, the §5.2 frame-body wrap and double Base64.

Each scenario times the compiled twin, the pure twin and the alternatives a user would reach
for, in the same process: OpenSSL's SEED through ``cryptography`` (baseline of the SEED
scenarios) and ``binascii`` applied twice (baseline of the Base64 ones), with pybase64 beside
them when installed. Inputs are built outside the timed bodies.

Targets (the core's design goals, docs/ciphers.md): ``Seed.encrypt_cbc`` >= 1.0x OpenSSL at 4 KiB and 1 MiB; ``seed_seal`` of a
200-byte event >= 3x a cryptography call doing the same job; ``b64encode2``/``b64decode2``
>= 1.5x binascii twice at 256 B and 64 KiB.
"""
from __future__ import annotations

import binascii
import os
import random

from lgucore import cipher as _cipher

PY = _cipher.py
C = _cipher.c
KEY = bytes(range(16))
IV = bytes(range(16, 32))
EVENT = (b"RING CALLER:01012345678 CALLED:07012349211 EXT:3456 TIME:20240101123456 "
         b"CALLID:4f1c2a9e-0b7d-4c55-9a51-0d6c2e7f8a11 TYPE:inbound STATUS:ringing KIND:normal "
         b"TRUNK:01 SEQ:000123 MEMO:(a|b) LINE:2 ORIGIN:pbx-a.example.net")[:200]
assert len(EVENT) == 200


def _mbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


def _openssl():
    """(SEED algorithm class, Cipher, modes) from cryptography, or None when unavailable."""
    try:
        try:
            from cryptography.hazmat.decrepit.ciphers.algorithms import SEED
        except ImportError:
            from cryptography.hazmat.primitives.ciphers.algorithms import SEED
        from cryptography.hazmat.primitives.ciphers import Cipher, modes

        Cipher(SEED(KEY), modes.ECB()).encryptor()
    except Exception as exc:  # noqa: BLE001 - report why the baseline is missing
        print(f"bench_cipher: OpenSSL SEED unavailable ({exc}); SEED scenarios have no baseline")
        return None
    return SEED, Cipher, modes


def _pybase64():
    try:
        import pybase64
    except ImportError:
        return None
    return pybase64


def bench_seed_cbc(report, ossl, size: int, label: str) -> None:
    """``Seed.encrypt_cbc`` (PKCS#7 + CBC) throughput against OpenSSL's SEED-CBC."""
    data = os.urandom(size)
    scenario = f"SEED encrypt_cbc {label}"
    if ossl is not None:
        SEED, Cipher, modes = ossl
        algo, mode = SEED(KEY), modes.CBC(IV)
        pad = bytes((16 - size % 16,)) * (16 - size % 16)

        def openssl():
            enc = Cipher(algo, mode).encryptor()
            return enc.update(data + pad) + enc.finalize()

        report.add(scenario, "OpenSSL(cryptography)", _mbps(size, report.timeit(openssl)), "MB/s", baseline=True)
    if C is not None:
        sc = C.Seed(KEY)
        report.add(scenario, "compiled", _mbps(size, report.timeit(lambda: sc.encrypt_cbc(IV, data))), "MB/s")
    # the pure twin runs ~100x slower: time it on at most 16 KiB and report its rate
    sample = data[: 16 << 10]
    sp = PY.Seed(KEY)
    variant = "pure" if len(sample) == size else "pure (16 KiB sample)"
    report.add(scenario, variant, _mbps(len(sample), report.timeit(lambda: sp.encrypt_cbc(IV, sample))), "MB/s")


def bench_seed_seal(report, ossl) -> None:
    """``seed_seal`` of a 200-byte event (fresh IV, PKCS#7, CBC, Base64) against cryptography."""
    scenario = "seed_seal 200 B event"
    if ossl is not None:
        SEED, Cipher, modes = ossl
        algo = SEED(KEY)
        urandom, b2a = os.urandom, binascii.b2a_base64

        def openssl():
            iv = urandom(16)
            p = 16 - len(EVENT) % 16
            enc = Cipher(algo, modes.CBC(iv)).encryptor()
            return b2a(iv + enc.update(EVENT + bytes((p,)) * p) + enc.finalize(), newline=False)

        report.add(scenario, "OpenSSL(cryptography)", report.timeit(openssl) * 1e6, "us",
                   baseline=True, higher_is_better=False)
    if C is not None:
        sc = C.Seed(KEY)
        report.add(scenario, "compiled", report.timeit(lambda: C.seed_seal(EVENT, sc)) * 1e6, "us",
                   higher_is_better=False)
        report.add(scenario, "compiled (bytes key)", report.timeit(lambda: C.seed_seal(EVENT, KEY)) * 1e6, "us",
                   higher_is_better=False)
    sp = PY.Seed(KEY)
    report.add(scenario, "pure", report.timeit(lambda: PY.seed_seal(EVENT, sp)) * 1e6, "us",
               higher_is_better=False)


def bench_seed_open(report, ossl) -> None:
    """``seed_open`` of a 200-byte event (Base64, CBC, padding check) against cryptography."""
    scenario = "seed_open 200 B event"
    body = PY.seed_seal(EVENT, KEY, iv=IV)
    if ossl is not None:
        SEED, Cipher, modes = ossl
        algo = SEED(KEY)
        a2b = binascii.a2b_base64

        def openssl():
            raw = a2b(body, strict_mode=True)
            dec = Cipher(algo, modes.CBC(raw[:16])).decryptor()
            plain = dec.update(raw[16:]) + dec.finalize()
            p = plain[-1]
            if not 1 <= p <= 16 or plain[-p:] != bytes((p,)) * p:
                raise ValueError("bad padding")
            return plain[:-p]

        report.add(scenario, "OpenSSL(cryptography)", report.timeit(openssl) * 1e6, "us",
                   baseline=True, higher_is_better=False)
    if C is not None:
        sc = C.Seed(KEY)
        report.add(scenario, "compiled", report.timeit(lambda: C.seed_open(body, sc)) * 1e6, "us",
                   higher_is_better=False)
    sp = PY.Seed(KEY)
    report.add(scenario, "pure", report.timeit(lambda: PY.seed_open(body, sp)) * 1e6, "us",
               higher_is_better=False)


def bench_b64encode2(report, size: int, label: str) -> None:
    """``b64encode2`` throughput (input bytes) against binascii and pybase64 applied twice."""
    data = random.Random(size).randbytes(size)
    scenario = f"b64encode2 {label}"
    b2a = binascii.b2a_base64
    report.add(scenario, "binascii x2", _mbps(size, report.timeit(lambda: b2a(b2a(data, newline=False),
                                                                               newline=False))),
               "MB/s", baseline=True)
    if C is not None:
        report.add(scenario, "compiled", _mbps(size, report.timeit(lambda: C.b64encode2(data))), "MB/s")
    report.add(scenario, "pure", _mbps(size, report.timeit(lambda: PY.b64encode2(data))), "MB/s")
    pb = _pybase64()
    if pb is not None:
        enc = pb.b64encode
        report.add(scenario, "pybase64 x2", _mbps(size, report.timeit(lambda: enc(enc(data)))), "MB/s")


def bench_b64decode2(report, size: int, label: str) -> None:
    """``b64decode2`` (strict, both layers) throughput in decoded bytes against binascii and
    pybase64 applied twice (binascii's default mode skips bad bytes; its strict mode is beside it)."""
    data = random.Random(size).randbytes(size)
    text = PY.b64encode2(data)
    scenario = f"b64decode2 {label}"
    a2b = binascii.a2b_base64
    report.add(scenario, "binascii x2", _mbps(size, report.timeit(lambda: a2b(a2b(text)))), "MB/s", baseline=True)
    report.add(scenario, "binascii x2 strict",
               _mbps(size, report.timeit(lambda: a2b(a2b(text, strict_mode=True), strict_mode=True))), "MB/s")
    if C is not None:
        report.add(scenario, "compiled", _mbps(size, report.timeit(lambda: C.b64decode2(text))), "MB/s")
    report.add(scenario, "pure", _mbps(size, report.timeit(lambda: PY.b64decode2(text))), "MB/s")
    pb = _pybase64()
    if pb is not None:
        dec = pb.b64decode
        report.add(scenario, "pybase64 x2 (validate)",
                   _mbps(size, report.timeit(lambda: dec(dec(text, validate=True), validate=True))), "MB/s")


def bench_basic(report) -> None:
    """The basic cipher (XOR + double Base64) on a 200-byte event, both twins."""
    scenario = "basic_encrypt+decrypt 200 B event"
    body = PY.basic_encrypt(EVENT)
    report.add(scenario, "pure", report.timeit(lambda: PY.basic_decrypt(PY.basic_encrypt(EVENT))) * 1e6, "us",
               baseline=True, higher_is_better=False)
    if C is not None:
        report.add(scenario, "compiled", report.timeit(lambda: C.basic_decrypt(C.basic_encrypt(EVENT))) * 1e6,
                   "us", higher_is_better=False)
    assert PY.basic_decrypt(body) == EVENT


def run(report) -> None:
    """All cipher scenarios into ``report`` (see bench/_harness.py).

    In quick mode (``report.quick``, a smoke test) the large inputs shrink to a few KiB;
    the scenario names keep their nominal sizes.
    """
    if C is None:
        print("bench_cipher: the compiled twin is not built; reporting the pure twin only")
    quick = bool(getattr(report, "quick", False))
    ossl = _openssl()
    bench_seed_cbc(report, ossl, 4 << 10, "4 KiB")
    bench_seed_cbc(report, ossl, (4 << 10) if quick else (1 << 20), "1 MiB")
    bench_seed_seal(report, ossl)
    bench_seed_open(report, ossl)
    for size, label in ((256, "256 B"), ((4 << 10) if quick else (64 << 10), "64 KiB")):
        bench_b64encode2(report, size, label)
        bench_b64decode2(report, size, label)
    bench_basic(report)
