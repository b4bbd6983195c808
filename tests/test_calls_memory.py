"""The tracker's bounded memories (``lguapi.calls.index.Memory``), on the selected twin.

The pure twin keeps each generation in a dict, the compiled twin in a C table of its own
(``lgu_keytab.h``): both must answer as the documented rules say. A model written from those
rules -- two generations; the newer becomes the older when it holds ``maxlen // 2`` keys at a
put, or when ``ttl / 2`` seconds have passed, and the older is then forgotten, or both are when
a whole ``ttl`` has -- is run beside it on random operations, with keys that are equal but not
the same object, values of None, removals and tables that grow through many sizes.
"""
from __future__ import annotations

import gc
import random
import sys

import pytest

from lguapi.calls._twin import COMPILED, hot

Memory = hot("index").Memory


class Model:
    """The rules of docs/limits.md's memories, plainly."""

    def __init__(self, maxlen: int, ttl: float) -> None:
        self.new: dict = {}
        self.old: dict = {}
        self.half_len = max(1, maxlen // 2)
        self.half_ttl = ttl / 2
        self.rotate_at: float | None = None  # None: nothing put yet

    def _rotate(self, now: float) -> None:
        self.old = self.new if now < self.rotate_at + self.half_ttl else {}
        self.new = {}
        self.rotate_at = now + self.half_ttl

    def _age(self, now: float) -> None:
        if self.rotate_at is not None and now >= self.rotate_at:
            self._rotate(now)

    def put_many(self, keys: list, value, now: float) -> None:
        if self.rotate_at is None:
            self.rotate_at = now + self.half_ttl
        elif now >= self.rotate_at or len(self.new) >= self.half_len:
            self._rotate(now)
        for k in keys:
            self.new[k] = value

    def get(self, key, now: float):
        self._age(now)
        v = self.new.get(key)
        return self.old.get(key) if v is None else v

    def first(self, keys, now: float):
        self._age(now)
        for k in keys:
            if k is not None:
                v = self.new.get(k)
                if v is None:
                    v = self.old.get(k)
                if v is not None:
                    return v
        return None

    def pop(self, key) -> None:
        self.new.pop(key, None)
        self.old.pop(key, None)


def _key(n: int) -> str:
    # a new str object each time: the memory must compare keys by value, not by identity
    return "".join(["SIP/", str(n), "-", format(n * 2654435761 % (1 << 32), "08x")])


@pytest.mark.parametrize("seed, maxlen, ttl", [(1, 16, 10.0), (2, 64, 1e9), (3, 1000, 5.0), (4, 2, 3.0),
                                               (5, 20_000, 60.0)])
def test_random_operations_answer_as_the_rules_say(seed, maxlen, ttl):
    rng = random.Random(seed)
    mem, model = Memory(maxlen, ttl), Model(maxlen, ttl)
    now = 0.0
    pool = max(8, maxlen * 3)
    values = ["call-1", "call-2", None, "N#2"]
    for step in range(20_000):
        now += rng.expovariate(2000.0 / ttl) if rng.random() < 0.9 else rng.random() * ttl
        op = rng.random()
        if op < 0.35:
            keys = [_key(rng.randrange(pool)) for _ in range(rng.randint(1, 7))]
            v = rng.choice(values) if rng.random() < 0.95 else [step]
            if len(keys) == 1 and rng.random() < 0.5:
                mem.put(keys[0], v, now)
            else:
                mem.put_many(keys, v, now)
            model.put_many(keys, v, now)
        elif op < 0.65:
            k = _key(rng.randrange(pool))
            assert mem.get(k, now) == model.get(k, now), (step, k)
        elif op < 0.9:
            keys = tuple(_key(rng.randrange(pool)) if rng.random() < 0.8 else None for _ in range(4))
            assert mem.first(keys, now) == model.first(keys, now), (step, keys)
        else:
            k = _key(rng.randrange(pool))
            mem.pop(k)
            model.pop(k)
        if step % 997 == 0:
            new, old = mem.generations()
            assert (new, old) == (model.new, model.old), step
            assert len(mem) == len(model.new) + len(model.old)
            assert bool(mem) == bool(model.new or model.old)


def test_a_generation_of_a_hundred_thousand_keys_keeps_every_one():
    mem = Memory(200_000, 1e9)
    keys = [_key(n) for n in range(250_000)]
    for n, k in enumerate(keys):
        mem.put(k, n, 1.0)
    # 100,000 per generation: the last 50,000 are in the newer one, the 100,000 before in the older
    new, old = mem.generations()
    assert len(new) == 50_000 and len(old) == 100_000 and len(mem) == 150_000
    assert all(mem.get(_key(n), 1.0) == n for n in range(100_000, 250_000))
    assert all(mem.get(_key(n), 1.0) is None for n in range(0, 100_000, 7))
    for n in range(100_000, 250_000, 3):
        mem.pop(_key(n))
    assert all(mem.get(_key(n), 1.0) is None for n in range(100_000, 250_000, 3))
    assert all(mem.get(_key(n), 1.0) == n for n in range(100_001, 250_000, 3))


def test_a_key_put_again_takes_the_new_value_and_removed_slots_are_reused():
    mem = Memory(1_000_000, 1e9)
    for rnd in range(5):
        for n in range(3000):
            mem.put(_key(n), f"v{rnd}", 1.0)
        assert len(mem) == 3000 and mem.get(_key(2999), 1.0) == f"v{rnd}"
        for n in range(3000):
            mem.pop(_key(n))
        assert len(mem) == 0 and not mem and mem.first((_key(1), None), 1.0) is None


def test_the_memory_lets_go_of_what_it_forgets():
    class Value:  # a value the test can count (str and lists are not weakly referable)
        alive = 0

        def __init__(self) -> None:
            Value.alive += 1

        def __del__(self) -> None:
            Value.alive -= 1

    mem = Memory(100, 10.0)
    for n in range(60):
        mem.put(_key(n), Value(), 1.0)
    assert Value.alive == 60
    for n in range(60, 120):  # two rotations by count: the first 50 keys' generation is forgotten
        mem.put(_key(n), Value(), 1.0)
    gc.collect()
    assert Value.alive == len(mem) == 70
    mem.put(_key(999), Value(), 100.0)  # a whole ttl later: both generations forgotten
    gc.collect()
    assert Value.alive == len(mem) == 1
    key = _key(999)
    before = sys.getrefcount(key)
    mem.put(key, "x", 100.0)  # the same key again: no reference taken twice
    assert sys.getrefcount(key) - before in (0, 1)
    del mem
    gc.collect()
    assert Value.alive == 0


def test_the_twin_under_test_is_the_one_selected():
    # the pure twin's generations are dicts; the compiled twin's are C tables, not attributes
    assert hasattr(Memory(10, 1.0), "new") is not COMPILED
