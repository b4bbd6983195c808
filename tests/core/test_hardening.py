"""Crafted inputs on both twins: hand-edited batch columns, oversized allocations, held bytes.

Anything that could crash the interpreter runs in a child process, so a segfault is a
test failure with its exit status, not a dead test run.
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import tracemalloc

import pytest

from lgucore import frames as _frames
from lgucore.errors import FrameError

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")

_PRELUDE = """
import sys
import lgucore
from lgucore import frames
impl = lgucore.implementations()[sys.argv[1]]
enc = frames.py.encode_frame
"""


def run_child(twin: str, body: str) -> subprocess.CompletedProcess:
    """Run ``body`` in a fresh interpreter with ``impl`` set to the named twin."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = _PRELUDE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code, twin], capture_output=True, text=True, env=env,
                          timeout=300)


def twin_name(impl) -> str:
    return "c" if impl.tokenize_batch.__module__.endswith("_c") else "py"


def assert_clean(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"child exited {proc.returncode}: {proc.stderr[-2000:]}"


# ---------------------------------------------------------------- crafted columns

CRAFTED = [
    ("name_lengths", 0, (1 << 63) - 1),
    ("name_lengths", 0, -3),
    ("name_offsets", 0, -(1 << 62)),
    ("name_offsets", 1, 1 << 40),
    ("key_offsets", 0, 1 << 40),
    ("key_lengths", 0, (1 << 63) - 1),
    ("value_offsets", 0, -5),
    ("value_offsets", 1, (1 << 63) - 2),
    ("value_lengths", 0, (1 << 63) - 1),
    ("value_lengths", 0, -2),
    ("field_index", 0, 1 << 30),
    ("field_index", 1, -1),
    ("field_index", 2, (1 << 63) - 1),
]


def test_hand_edited_token_columns_give_value_error(impl):
    proc = run_child(twin_name(impl), f"""
        body = "가나|K:다|L:라마".encode("cp949")
        buf = enc(1, body) + enc(1, b"B|M:3")
        tb = impl.tokenize_batch(impl.decode_batch(buf))
        for column, i, value in {CRAFTED!r}:
            arr = getattr(tb, column)
            saved = arr.copy()
            arr[i] = value
            try:
                tb.messages()
            except ValueError:
                pass
            else:
                raise AssertionError((column, i, value))
            for j in (0, 1):   # one message alone: its own columns are checked, never a crash
                try:
                    tb.message(j)
                except ValueError:
                    pass
            arr[:] = saved
        assert tb.messages()[0].get("L") == "라마"
        print("ok")
    """)
    assert_clean(proc)
    assert proc.stdout.strip() == "ok"


def test_message_ranges_are_checked(impl):
    proc = run_child(twin_name(impl), """
        tb = impl.tokenize_batch(impl.decode_batch(enc(1, "가|K:1".encode("cp949")) + enc(1, b"B|M:3")))
        for first, stop in ((-100000000, 1), (-1, 1), (0, 3), (0, 1 << 40), (2, 1), (1 << 62, 1 << 62), (-5, -1)):
            try:
                tb._messages(first, stop)
            except (ValueError, IndexError):
                pass
            else:
                raise AssertionError((first, stop))
        assert [m.name for m in tb._messages(0, 2)] == ["가", "B"]
        assert tb._messages(1, 1) == []
        print("ok")
    """)
    assert_clean(proc)


def test_hand_built_frame_batch_gives_value_error(impl):
    proc = run_child(twin_name(impl), """
        import numpy as np
        buf = memoryview(enc(1, b"A|K:1") + enc(1, "가|L:2".encode("cp949"))).toreadonly()
        good = impl.decode_batch(buf)
        for offsets, lengths in (([4, 1 << 62], [5, 10]), ([4, 13], [5, (1 << 63) - 1]), ([-4, 13], [5, 6]),
                                 ([4, 13], [-1, 6]), ([4, (1 << 63) - 1], [5, 1]), ([4, 13], [5, 100])):
            fb = impl.FrameBatch(buf, good.types, np.array(offsets, dtype=np.int64),
                                 np.array(lengths, dtype=np.int64), good.consumed)
            try:
                impl.tokenize_batch(fb)
            except ValueError:
                pass
            else:
                raise AssertionError((offsets, lengths))
        print("ok")
    """)
    assert_clean(proc)


# ---------------------------------------------------------------- allocation sizing

def test_tokenize_batch_sizes_columns_from_the_input(impl):
    """64 bodies of 65535 pipes, then 100,000 one-byte bodies: 4.6 MB, 4.2 M fields."""
    enc = _frames.py.encode_frame
    buf = enc(1, b"|" * 65535) * 64 + enc(1, b"A") * 100_000
    tb = impl.tokenize_batch(impl.decode_batch(buf))
    assert len(tb) == 100_064 and tb.nfields == 64 * 65535
    assert tb.field_index[64] == 64 * 65535 and tb.field_index[-1] == 64 * 65535
    # the reverse shape: a cheap sample, then the dense frames
    buf = enc(1, b"A") * 64 + enc(1, b"|" * 65535) * 8
    tb = impl.tokenize_batch(impl.decode_batch(buf))
    assert tb.nfields == 8 * 65535 and tb.messages()[-1].fields[0] == (None, "")


# ---------------------------------------------------------------- max_buffer

def _held_after(fn) -> int:
    """Bytes still allocated after ``fn`` returns (its result dropped)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fn()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_max_buffer_bounds_the_bytes_fed_in_one_call(impl):
    """A 4 MB feed of whole frames is cut from the caller's data, never copied whole."""
    enc = _frames.py.encode_frame
    data = enc(1, b"x" * 4000) * 1000 + b"\x00\x01\x0f"
    dec = impl.FrameDecoder(max_body=4000, max_buffer=8192)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        frames = dec.feed(data)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    bodies = sum(len(f.body) for f in frames)
    assert len(frames) == 1000 and dec.pending == 3
    assert peak < bodies + 1000 * 200 + 8192 + (64 << 10), (peak, bodies)


def test_max_buffer_bounds_what_an_error_leaves_held(impl):
    enc = _frames.py.encode_frame
    dec = impl.FrameDecoder(max_body=100, max_buffer=104)
    data = enc(1, b"ok") + b"\x00\x01\xff\xff" + bytes(4 << 20)

    def bad_feed():
        with pytest.raises(FrameError) as ei:
            dec.feed(data)
        assert ei.value.offset == 6 and ei.value.frames == [(1, b"ok")]

    assert _held_after(bad_feed) < 104 + (16 << 10)
    assert dec.pending == (4 << 20) + 4


@pytest.mark.parametrize("step", [1, 3, 4, 7, 100, 1000])
def test_partial_frames_held_stay_under_max_buffer(impl, step):
    enc = _frames.py.encode_frame
    data = b"".join(enc(1, bytes([i]) * (i * 3)) for i in range(34))
    dec = impl.FrameDecoder(max_body=100, max_buffer=104)
    got = []
    for i in range(0, len(data), step):
        got += dec.feed(data[i : i + step])
        assert dec.pending < 104
    assert [f.body for f in got] == [bytes([i]) * (i * 3) for i in range(34)]
    dec.eof()
