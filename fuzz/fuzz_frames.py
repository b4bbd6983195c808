"""Fuzz target: the incremental frame decoder, pure against compiled, fed in fuzzed pieces."""
from __future__ import annotations

import atheris

from _harness import instrumented, run, twins

with instrumented():
    import lgucore  # noqa: F401
    from lgucore.errors import FrameError

IMPLS = twins()


def decode(impl, order: str, max_body: int, cuts: list[int], stream: bytes) -> tuple:
    """Everything observable of one decoder fed ``stream`` cut at ``cuts``."""
    dec = impl.FrameDecoder(byteorder=order, max_body=max_body)
    frames, pos = [], 0
    for cut in cuts + [len(stream)]:
        piece = stream[pos:cut]
        pos = max(pos, cut)
        try:
            frames.extend(dec.feed(piece))
        except FrameError as exc:
            frames.extend(exc.frames)
            return (frames, "error", str(exc), exc.offset, exc.excerpt, dec.pending, dec.offset)
        if dec.pending >= 4 + max_body:
            raise AssertionError(f"decoder holds {dec.pending} bytes, over 4 + max_body")
    try:
        dec.eof()
        end = None
    except FrameError as exc:
        end = (str(exc), exc.offset, exc.excerpt)
    return (frames, "ok", dec.pending, dec.offset, end)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    order = "little" if fdp.ConsumeBool() else "big"
    max_body = fdp.ConsumeIntInRange(0, 65535) if fdp.ConsumeBool() else fdp.ConsumeIntInRange(0, 64)
    cuts = sorted(fdp.ConsumeIntInRange(0, 512) for _ in range(fdp.ConsumeIntInRange(0, 6)))
    stream = fdp.ConsumeBytes(fdp.remaining_bytes())
    results = [decode(impl, order, max_body, cuts, stream) for impl in IMPLS]
    if any(r != results[0] for r in results):
        raise AssertionError(f"twins disagree on {stream[:64]!r}: {results}")


if __name__ == "__main__":
    run(test_one_input)
