"""Fuzz target: Base64, BASIC and SEED, pure against compiled, on hostile bodies and round trips."""
from __future__ import annotations

import atheris

from _harness import instrumented, outcome, run, twins

with instrumented():
    import lgucore

IMPLS = twins()
SEED_KEY, BASIC_KEY = lgucore.DEFAULT_SEED_KEY, lgucore.DEFAULT_BASIC_KEY


def opened(impl, body: bytes, key16: bytes, iv: bytes) -> tuple:
    return (outcome(impl.b64decode2, body), outcome(impl.basic_decrypt, body, BASIC_KEY),
            outcome(impl.seed_open, body, SEED_KEY), outcome(impl.seed_open, body, key16),
            outcome(impl.Seed(key16).decrypt_cbc, iv, body), outcome(impl.b64encode2, body),
            outcome(impl.basic_encrypt, body, BASIC_KEY), outcome(impl.seed_seal, body, key16, iv))


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    key16 = fdp.ConsumeBytes(16).ljust(16, b"\0")
    iv = fdp.ConsumeBytes(16).ljust(16, b"\0")
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    results = [opened(impl, body, key16, iv) for impl in IMPLS]
    if any(r != results[0] for r in results):
        raise AssertionError(f"twins disagree on {body[:64]!r}: {results}")
    for impl in IMPLS:   # every seal opens again, with either twin
        sealed = impl.seed_seal(body, key16, iv)
        for other in IMPLS:
            if other.seed_open(sealed, key16) != body:
                raise AssertionError("seed_seal/seed_open round trip lost the body")
            if other.basic_decrypt(impl.basic_encrypt(body, BASIC_KEY), BASIC_KEY) != body:
                raise AssertionError("basic round trip lost the body")


if __name__ == "__main__":
    run(test_one_input)
