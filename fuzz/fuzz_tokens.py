"""Fuzz target: the event tokenizer, pure against compiled, in every view of a message."""
from __future__ import annotations

from _harness import instrumented, outcome, run, twins

with instrumented():
    import lgucore  # noqa: F401

IMPLS = twins()
CHARSETS = ("cp949", "utf-8", "latin-1")


def views(impl, body: bytes, charset: str) -> tuple:
    m = impl.tokenize(body, charset=charset)
    first = next((k for k, _ in m.fields if k is not None), None)
    # lazy reads first (get/contains on an untouched message), then the fields
    lazy = impl.tokenize(body, charset=charset)
    return (m.name, m.fields, m.raw, m.to_dict(), lazy.get(first), first in lazy, lazy.to_dict(),
            m.getall(None))


def test_one_input(data: bytes) -> None:
    charset = CHARSETS[data[0] % len(CHARSETS)] if data else "cp949"
    body = data[1:]
    results = [outcome(views, impl, body, charset) for impl in IMPLS]
    if results[0][0] != "ok":
        raise AssertionError(f"tokenize raised on {body[:64]!r}: {results[0]}")
    if any(r != results[0] for r in results):
        raise AssertionError(f"twins disagree on {body[:64]!r}: {results}")


if __name__ == "__main__":
    run(test_one_input)
