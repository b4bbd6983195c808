"""Fuzz target: batch decoding, pure against compiled, and hand-edited columns that must never crash."""
from __future__ import annotations

import atheris

from _harness import instrumented, outcome, run, twins

with instrumented():
    import lgucore  # noqa: F401
    from lgucore.errors import FrameError

IMPLS = twins()
COLUMNS = ("name_offsets", "name_lengths", "field_index", "key_offsets", "key_lengths",
           "value_offsets", "value_lengths")
INT64 = (-(1 << 63), (1 << 63) - 1)


def columns(impl, buf: bytes, order: str, max_body: int) -> tuple:
    try:
        fb = impl.decode_batch(buf, byteorder=order, max_body=max_body)
    except FrameError as exc:
        return ("error", str(exc), exc.offset, exc.excerpt)
    tb = impl.tokenize_batch(fb)
    msgs = tb.messages()
    bodies = [bytes(fb.body(i)) for i in range(len(fb))]
    if msgs != [impl.tokenize(b) for b in bodies]:
        raise AssertionError("messages() differ from tokenize() of each body")
    return ("ok", fb.consumed, fb.types.tolist(), fb.offsets.tolist(), fb.lengths.tolist(),
            [getattr(tb, c).tolist() for c in COLUMNS], tb.field_frame.tolist(), msgs)


def edited(impl, buf: bytes, fdp: atheris.FuzzedDataProvider) -> tuple:
    """Edit one column value (any int64) and read the messages back: an outcome, never a crash."""
    fb = impl.decode_batch(buf, max_body=65535)
    tb = impl.tokenize_batch(fb)
    column = getattr(tb, COLUMNS[fdp.ConsumeIntInRange(0, len(COLUMNS) - 1)])
    if len(column):
        column[fdp.ConsumeIntInRange(0, len(column) - 1)] = fdp.ConsumeIntInRange(*INT64)
    first, stop = fdp.ConsumeIntInRange(-3, len(tb) + 3), fdp.ConsumeIntInRange(-3, len(tb) + 3)
    got: object
    try:
        got = [m.fields for m in tb._messages(first, stop)]
    except (ValueError, IndexError) as exc:
        got = type(exc).__name__
    return (outcome(tb.messages)[0], got)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    order = "little" if fdp.ConsumeBool() else "big"
    max_body = fdp.ConsumeIntInRange(0, 65535)
    edit_seed = fdp.ConsumeBytes(24)
    buf = fdp.ConsumeBytes(fdp.remaining_bytes())
    results = [columns(impl, buf, order, max_body) for impl in IMPLS]
    if any(r != results[0] for r in results):
        raise AssertionError(f"twins disagree on {buf[:64]!r}")
    if results[0][0] == "ok":
        edits = [edited(impl, buf, atheris.FuzzedDataProvider(edit_seed)) for impl in IMPLS]
        if any(e[0] != edits[0][0] for e in edits):
            raise AssertionError(f"twins disagree on an edited column: {edits}")


if __name__ == "__main__":
    run(test_one_input)
