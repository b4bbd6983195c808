"""The micro-benchmarks of bench_core.py and bench_cipher.py under pytest-benchmark.

    pytest bench/ --benchmark-only                       # every micro-benchmark, both twins
    pytest bench/ --benchmark-only --benchmark-autosave  # keep this run (.benchmarks/)
    pytest bench/ --benchmark-only --benchmark-compare   # compare with the last saved run
    pytest bench/ --benchmark-only --benchmark-compare=0001 --benchmark-compare-fail=mean:10%

Each benchmark is one scenario of the summary table of ``make bench`` (bench/run.py), on
the same inputs (built by the same functions, outside the timed body), for each twin that
is built (ids ``c``/``py``) and the plain-Python baseline where the table has one.
``make test`` runs this file once with ``--benchmark-disable`` as a smoke test: every body
runs once, untimed.
"""
from __future__ import annotations

import binascii
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_core  # noqa: E402  (the scenario inputs, shared with make bench)
from bench_cipher import KEY  # noqa: E402
from lgucore import batch as _batch, cipher as _cipher, frames as _frames, tokens as _tokens  # noqa: E402

N_EVENTS = 2_000
N_FRAMES = 5_000


def twins(facade: ModuleType) -> list[Any]:
    """The built twins of one lgucore facade, as pytest params with ids ``c``/``py``."""
    return [pytest.param(m, id=tag) for tag, m in (("c", facade.c), ("py", facade.py)) if m is not None]


@pytest.fixture(scope="module")
def bodies() -> list[bytes]:
    return bench_core.event_bodies(N_EVENTS, "cp949")


@pytest.fixture(scope="module")
def frames_buffer() -> bytes:
    return bench_core.frame_buffer(N_FRAMES)


def each(fn: Callable[[bytes], object], items: list[bytes]) -> Callable[[], None]:
    def run() -> None:
        for b in items:
            fn(b)
    return run


# -- tokenizing, frames, batches ------------------------------------------------------------
@pytest.mark.parametrize("mod", twins(_tokens))
def test_tokenize(benchmark, mod, bodies):
    benchmark.group = f"tokenize {N_EVENTS} cp949 events"
    benchmark(each(mod.tokenize, bodies))


def test_tokenize_naive_split(benchmark, bodies):
    benchmark.group = f"tokenize {N_EVENTS} cp949 events"
    benchmark(each(bench_core.naive_parse, bodies))


@pytest.mark.parametrize("chunk", [65536, 7], ids=["64KiB", "7B"])
@pytest.mark.parametrize("mod", twins(_frames))
def test_frame_decoder_feed(benchmark, mod, chunk, frames_buffer):
    data = frames_buffer if chunk > 7 else frames_buffer[: len(frames_buffer) // 20]
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    benchmark.group = f"FrameDecoder.feed in {chunk}-byte pieces"

    def run() -> None:
        d = mod.FrameDecoder()
        for p in pieces:
            d.feed(p)
    benchmark(run)


@pytest.mark.parametrize("mod", twins(_batch))
def test_decode_and_tokenize_batch(benchmark, mod, frames_buffer):
    benchmark.group = f"decode_batch+tokenize_batch {N_FRAMES} frames"
    benchmark(lambda: mod.tokenize_batch(mod.decode_batch(frames_buffer)))


def test_struct_split_pipeline(benchmark, frames_buffer):
    benchmark.group = f"decode_batch+tokenize_batch {N_FRAMES} frames"
    benchmark(bench_core.struct_split_pipeline, frames_buffer)


# -- ciphers --------------------------------------------------------------------------------
EVENT = os.urandom(200)
IV = bytes(16)


@pytest.mark.parametrize("mod", twins(_cipher))
def test_seed_seal_200b(benchmark, mod):
    benchmark.group = "seed_seal 200 B event"
    benchmark(mod.seed_seal, EVENT, KEY, IV)


@pytest.mark.parametrize("mod", twins(_cipher))
def test_seed_open_200b(benchmark, mod):
    sealed = mod.seed_seal(EVENT, KEY, IV)
    benchmark.group = "seed_open 200 B event"
    assert benchmark(mod.seed_open, sealed, KEY) == EVENT


@pytest.mark.parametrize("size", [256, 65536], ids=["256B", "64KiB"])
@pytest.mark.parametrize("mod", twins(_cipher))
def test_b64encode2(benchmark, mod, size):
    data = os.urandom(size)
    benchmark.group = f"b64encode2 {size} B"
    benchmark(mod.b64encode2, data)


@pytest.mark.parametrize("size", [256, 65536], ids=["256B", "64KiB"])
def test_b64encode2_binascii_twice(benchmark, size):
    data = os.urandom(size)
    benchmark.group = f"b64encode2 {size} B"
    benchmark(lambda: binascii.b2a_base64(binascii.b2a_base64(data, newline=False), newline=False))


@pytest.mark.parametrize("mod", twins(_cipher))
def test_basic_encrypt_decrypt_200b(benchmark, mod):
    benchmark.group = "basic_encrypt+decrypt 200 B event"
    assert benchmark(lambda: mod.basic_decrypt(mod.basic_encrypt(EVENT))) == EVENT
