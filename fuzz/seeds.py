"""Write the checked-in seed corpus ``fuzz/corpus/<target>/`` (run once; the files are in git).

``python fuzz/seeds.py`` rewrites every ``seed-*`` file from the wire texts below and the
vendor-manual vectors of ``tests/core/manual_vectors.json``; ``regress-*`` files (inputs a
fuzzer once failed on) are kept. Seeds are small: the fuzzers grow from them.
"""
from __future__ import annotations

import json
import os
import struct

from _harness import twins  # noqa: F401  (puts the checkout's src first on sys.path)

from lgucore import DEFAULT_SEED_KEY, TEXT, TEXT_BASIC, TEXT_SEED, TextCodec, encode_frame, seed_seal

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "tests", "core", "manual_vectors.json")

EVENTS = [
    b"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3321-09b4afc0|RECHANNEL:SIP/trunk-0a|INEXTEN:07012343321|AGENT:3321"
    b"|CALLERID:01012345678|UNIQUEID:1319339029.484",
    b"CHANNELLIST|CHANNEL1:SIP/3321-09b4afc0|CHANNEL2:SIP/trunk-0a|CALLER1ID:3321|CALLER2ID:01012345678"
    b"|INEXTEN:|UNIQUEID1:1319339029.484|UNIQUEID2:1319339029.485",
    b"CHANNELOUT|CHANNEL:SIP/3321-09b4afc0|UNIQUEID:1319339029.484|SRCUNIQUEID:1319339029.485|HCAUSE:16",
    b"CMDRESULT CMD:MONITOR ACT:STOP RES:OK",
    b"CMDRESULT|CMD:GETSTATUSPEERS|RES:3321:idle\n3322:talking",
    b"CONFERENCEEVENT|CMD:JOIN|CONFNAME:room1|CHANNEL:SIP/3321-1|COUNT:2",
    "RECVSMS|FROM:01012345678|MESSAGE:안녕하세요|SMSTO:07012343321".encode("cp949"),
    b"CMD|HANGUP|SIP/3584-09fb3350",
    b"NAME(a|b)|K:(x|y)|L:1",
]
COMMANDS = [
    b"CMD LOGIN ID=07012343321 PWD=secret-3321 ",
    b"CMD CLICKCALL AGENT=3321 EXTEN=01012345678 CID= CONTEXT=",
    b"CMD|HANGUP|SIP/3321-09b4afc0",
    b"CMD SENDSMS AGENT=3321 TYPE=0 INFO= PEERS=010 MSG=a b=c",
    b"CMD SETUSERINFO AGENT=3321 KEY=K VAL=v",
    b"CMD|PONG",
]


def manual_texts() -> list[bytes]:
    with open(VECTORS, encoding="utf-8") as f:
        return [v["wire"].encode("cp949", "replace") for v in json.load(f)["vectors"]][:12]


def frames_of(bodies: list[bytes], order: str = "big") -> bytes:
    return b"".join(encode_frame(TEXT, b, byteorder=order) for b in bodies)


def sealed(plain: bytes, iv: bytes) -> bytes:
    """A TEXT_SEED frame with a fixed IV (the seeds must not change from run to run)."""
    return encode_frame(TEXT_SEED, seed_seal(plain, DEFAULT_SEED_KEY, iv=iv))


def captures() -> list[bytes]:
    """Capture segments without their FILE header (``fuzz_capture``'s input after its two mode
    bytes): connections opened, frames both ways, connection events, a close; and the records
    fuzzing once refused badly (an OPEN's unknown charset, an event field of the wrong type)."""
    import tempfile

    from lguapi.capture import EVENT, OPEN, CaptureWriter, segments

    with tempfile.TemporaryDirectory() as d:
        with CaptureWriter(d, compress=False) as w:
            c = w.open_connection(address="h:1", login="07012343321", exten="3321", ts=1.0)
            c2 = w.open_connection(address="h:1", login="07012343322", charset="utf-8", ts=1.0)
            w.event(c, {"event": "LoggedIn", "address": "h:1"}, ts=1.5)
            for i, text in enumerate(EVENTS[:3]):
                w.received(c, TEXT, text, ts=2.0 + i)
            w.received(c2, TEXT, b"LOGINRESULT|RESULT:1|EXTEN:3322|DOMAIN:d", ts=2.5)
            w.sent(c, TEXT, COMMANDS[0], ts=3.0)
            w.received(c, 0x10, b"", ts=3.5)
            w.event(c, {"event": "Reconciled", "statuses": [["3321", "ringing", None]]}, ts=4.0)
            w.event(c2, {"event": "Disconnected", "reason": "BYE", "deliberate": False}, ts=5.0)
            w.close_connection(c2, "bye", ts=6.0)
        whole = open(segments([d])[0], "rb").read()
    records = whole[4 + struct.unpack(">HH", whole[:4])[1]:]

    def record(kind: int, obj: dict) -> bytes:
        body = json.dumps(obj).encode()
        return struct.pack(">HH", kind, len(body)) + body

    return [b"\x00\x00" + records, b"\x01\x00" + records, b"\x02\xa0" + records,
            b"\x00\x00" + record(OPEN, {"conn": 3, "ts": 1.0, "charset": "cp9O9"}) + records,
            b"\x00\x00" + records + record(EVENT, {"conn": 1, "ts": 9.0, "event": {"event": "Disconnected",
                                                                                 "exten": ["3321"]}})]


def seeds() -> dict[str, list[bytes]]:
    basic = TextCodec("basic")
    iv = bytes(range(16))
    stream = frames_of(EVENTS[:3]) + encode_frame(0x10, b"hb") + b"\x00\x01\x00"
    return {
        # FDP: byteorder bool, max_body choice bool + int, cut count, cuts, then the stream
        "frames": [b"\x00\x01\xff\xff\x02\x05\x00\x40\x00" + stream,
                   b"\x01\x00\x10\x00" + frames_of(EVENTS[3:5], "little"),
                   b"\x00\x01\x08\x00\x00" + struct.pack(">HH", TEXT, 9000) + b"x" * 20],
        "tokens": [b"\x00" + t for t in EVENTS + manual_texts()] + [b"\x01" + "이름|키:값".encode("utf-8")],
        # FDP: byteorder, max_body (2 bytes), 24 edit bytes, then the buffer
        "batch": [b"\x00\xff\xff" + bytes(range(24)) + frames_of(EVENTS),
                  b"\x00\x40\x00" + b"\x07" * 24 + frames_of(EVENTS[:2]) + struct.pack(">HH", 1, 300)],
        # FDP: 16 key bytes, 16 IV bytes, then the body
        "cipher": [DEFAULT_SEED_KEY + iv + sealed(EVENTS[0], iv)[4:],
                   bytes(16) + bytes(16) + basic.encode(EVENTS[2])[4:],
                   DEFAULT_SEED_KEY + iv + b"AAAAAAAAAAAAAAAAAAAAAMpi2SrDFkiUfTXaTD7p1x0=",
                   bytes(32) + b"not=base64=="],
        "events": [bytes([i]) + t.split(b"|", 1)[-1] for i, t in enumerate(EVENTS)] + manual_texts(),
        "tracker": [bytes((i * 37 + j) % 256 for j in range(120)) for i in range(4)],
        "session": COMMANDS + [sealed(COMMANDS[0], iv), basic.encode(COMMANDS[1]),
                               encode_frame(TEXT_SEED, b"AAAA") + encode_frame(TEXT_BASIC, b"!!")],
        "capture": captures(),
    }


def main() -> None:
    for target, items in seeds().items():
        folder = os.path.join(HERE, "corpus", target)
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.startswith("seed-"):   # regress-* files are inputs a fuzzer once failed on: kept
                os.remove(os.path.join(folder, name))
        for i, data in enumerate(items):
            with open(os.path.join(folder, f"seed-{i:02d}"), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
