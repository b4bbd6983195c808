"""Fuzz target: capture segments from any records after a valid FILE header, plain or gzip (whole
or cut), read by both readers -- ``CaptureReader`` with the timelines ``serve --replay`` plays
from it, and ``replay`` into a JSON Lines sink. Each reads the segment or refuses it with
``CaptureError``; anything else (a ``TypeError`` from the tracker, a sink's own error, a crash)
is a finding.
"""
from __future__ import annotations

import asyncio
import atexit
import gzip
import json
import logging
import os
import shutil
import tempfile

from _harness import instrumented, run

with instrumented():
    from lguapi.capture import FILE, FORMAT, VERSION, CaptureError, CaptureReader
    from lguapi.replay import replay
    from lguapi.server.playback import load_timelines
    from lgucore import encode_frame

#: the first record of every segment, fixed (the fuzzer's bytes are the records after it)
HEADER = encode_frame(FILE, json.dumps({"format": FORMAT, "version": VERSION, "created": 0.0,
                                        "segment": 1}).encode())
_DIR = tempfile.mkdtemp(prefix="fuzz-capture-")
atexit.register(shutil.rmtree, _DIR, True)
_SINK = os.path.join(_DIR, "out.jsonl")
# damage the readers skip is logged as a warning (and counted): expected here, not a finding
logging.getLogger("lguapi").setLevel(logging.ERROR)


def segment(data: bytes) -> str:
    """The segment file for one input. First byte: 0 plain, 1 gzip, 2 gzip cut where the second
    byte says (a copy interrupted in the middle)."""
    mode = data[0] % 3 if data else 0
    body = HEADER + data[2:]
    if mode == 0:
        path = os.path.join(_DIR, "capture-fuzz-000001.lgcap")
        raw = body
    else:
        path = os.path.join(_DIR, "capture-fuzz-000001.lgcap.gz")
        raw = gzip.compress(body, mtime=0)
        if mode == 2 and len(data) > 1:
            raw = raw[:len(raw) * data[1] // 256]
    for name in os.listdir(_DIR):  # one segment at a time
        os.remove(os.path.join(_DIR, name))
    with open(path, "wb") as f:
        f.write(raw)
    return path


def test_one_input(data: bytes) -> None:
    path = segment(data)
    try:
        for _ in CaptureReader([path]):
            pass
    except CaptureError:
        pass
    try:  # what serve --replay makes of it
        load_timelines([path])
    except CaptureError:
        pass
    try:
        asyncio.run(replay([path], sink=_SINK))
    except CaptureError:
        pass


if __name__ == "__main__":
    run(test_one_input)
