"""Tokenizer vectors: every event text of the vendor manual (and docs/protocol.md), tokens written by hand.

The texts live in ``manual_vectors.json`` in the wire form docs/protocol.md implies (the manual
prints ``/`` or a double space where the wire has ``|``; its PDF line breaks are rejoined);
the odd ones are kept as printed. Each vector is checked through every path a body takes:
``tokenize`` in cp949 and utf-8, a frame through ``FrameDecoder``, and the batch columns.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

VECTORS = json.loads((Path(__file__).with_name("manual_vectors.json")).read_text(encoding="utf-8"))["vectors"]
IDS = [f"{i:02d}-{v['source'].replace('manual ', '')}-{v['name'][:14]}" for i, v in enumerate(VECTORS)]


def expected(vec) -> tuple:
    return tuple((k, v) for k, v in vec["fields"])


def test_the_manual_is_covered():
    sections = {v["source"].split()[1].split(".")[0].lstrip("§") for v in VECTORS if v["source"].startswith("manual")}
    assert {"1", "2", "3", "4", "5", "6"} <= sections
    for sub in ("§1.7", "§2.1", "§3.24", "§4.2", "§4.3", "§4.10", "§4.12", "§5.1", "§5.2", "§5.3", "§6.1"):
        assert any(v["source"].startswith(f"manual {sub}") for v in VECTORS), sub
    assert len(VECTORS) >= 70


@pytest.mark.parametrize("vec", VECTORS, ids=IDS)
@pytest.mark.parametrize("charset", ["cp949", "utf-8"])
def test_vector_tokenize(impl, vec, charset):
    body = vec["wire"].encode(charset)
    m = impl.tokenize(body, charset=charset)
    assert m.name == vec["name"]
    assert m.fields == expected(vec)
    assert m.raw == body
    # the typed layer's views of the same fields
    first = {}
    for k, v in expected(vec):
        if k is not None:
            first.setdefault(k, v)
    assert impl.tokenize(body, charset=charset).to_dict() == first
    fresh = impl.tokenize(body, charset=charset)
    for k, v in first.items():
        assert fresh.get(k) == v
        assert k in fresh
    assert fresh.getall(None) == [v for k, v in expected(vec) if k is None]


@pytest.mark.parametrize("charset", ["cp949", "utf-8"])
def test_vectors_through_frames_and_batch(impl, charset):
    bodies = [v["wire"].encode(charset) for v in VECTORS]
    stream = b"".join(impl.encode_frame(1, b) for b in bodies)
    dec = impl.FrameDecoder()
    frames = []
    for i in range(0, len(stream), 97):
        frames += dec.feed(stream[i : i + 97])
    dec.eof()
    assert [f.body for f in frames] == bodies
    tb = impl.tokenize_batch(impl.decode_batch(stream), charset=charset)
    msgs = tb.messages()
    for vec, m, body in zip(VECTORS, msgs, bodies):
        assert (m.name, m.fields, m.raw) == (vec["name"], expected(vec), body)
    assert len(msgs) == len(VECTORS)
    assert tb.nfields == sum(len(v["fields"]) for v in VECTORS)


def test_korean_text_in_both_charsets(impl):
    text = "RECVSMS FROM:010xxxx0850 MESSAGE: 테스트 123acvh SMSTO:070xxxx9812"
    for cs in ("cp949", "utf-8"):
        m = impl.tokenize(text.encode(cs), charset=cs)
        assert m.get("MESSAGE") == "테스트 123acvh"
    # read with the wrong charset: never raises, the ASCII fields survive
    m = impl.tokenize(text.encode("utf-8"), charset="cp949")
    assert m.get("FROM") == "010xxxx0850" and m.get("SMSTO") == "070xxxx9812"
    assert m.get("MESSAGE") != "테스트 123acvh"
