"""The shared bounded key memory (lguapi._recent.RecentKeys) and the JSONL sink's dedupe on it:
the window, the bound, never tracked by the collector, the option checked."""
from __future__ import annotations

import asyncio
import gc
import sys

import pytest

from lguapi._recent import RecentKeys
from lguapi.events import PingEvent
from lguapi.sinks import JsonlSink, read_jsonl


def test_fresh_remembers_the_last_half_to_all_and_never_more():
    r = RecentKeys(3)
    assert r.fresh("k0") and not r.fresh("k0")
    for i in range(1, 30):
        assert r.fresh(f"k{i}")
        assert len(r) <= 6  # two generations of at most ``half``
        assert all(f"k{j}" in r for j in range(max(0, i - 2), i + 1))  # the last ``half`` always
    assert "k0" not in r and not r.fresh("k29")
    assert not gc.is_tracked(r.new) and not gc.is_tracked(r.old)


def test_a_value_is_compared_and_a_second_value_kept_apart():
    r = RecentKeys(10)
    assert r.add("c", 1.0) and not r.add("c", 1.0)
    assert r.add("c", 2.0) and not r.add("c", 2.0) and not r.add("c", 1.0)
    assert not gc.is_tracked(r.new)


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="a CPython dict layout")
def test_the_generations_keep_hashes_in_the_table_after_they_grow():
    # the general layout stores 8 more bytes per slot than the string-only one (the hash); a
    # dict that has only ever held strings never has it, one that has held another key keeps it
    r = RecentKeys(50_000)
    plain: dict = {}
    for i in range(40_000):
        r.fresh(f"k{i}")
        plain[f"k{i}"] = None
    assert len(r.new) == len(plain) and sys.getsizeof(r.new) > sys.getsizeof(plain)
    assert not gc.is_tracked(r.new)
    for i in range(40_000, 50_000):
        r.fresh(f"k{i}")  # the rotation: the new generation is a fresh table of the same kind
    r.fresh("one more")
    plain = {"one more": None}
    assert sys.getsizeof(r.new) > sys.getsizeof(plain)


def _pings(n: int) -> list[PingEvent]:
    return [PingEvent(name="PING", raw="PING", exten="3001", ts=float(i)) for i in range(n)]


def test_the_jsonl_sink_skips_a_recent_key_and_keeps_its_memory_bounded(tmp_path):
    path = tmp_path / "e.jsonl"
    pings = _pings(50)

    async def run() -> JsonlSink:
        sink = JsonlSink(path, max_keys=10)
        failed = sink.write_batch([("event", p) for p in pings])
        failed += sink.write_batch([("event", p) for p in pings[-5:]])  # the last five again: skipped
        await sink.close()
        return sink

    sink = asyncio.run(run())
    assert sink.stats == {"written": 50, "duplicates": 5, "batches": 1}
    assert [r["ts"] for r in read_jsonl(path)] == [float(i) for i in range(50)]
    assert sink.max_keys == 10


def test_max_keys_below_two_is_refused(tmp_path):
    with pytest.raises(ValueError, match="max_keys"):
        JsonlSink(tmp_path / "e.jsonl", max_keys=1)
