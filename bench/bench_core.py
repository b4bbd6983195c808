"""Benchmarks of the protocol core: event tokenizing, incremental frame decoding, batch decoding.

Every scenario runs the compiled twin, the pure twin and the plain-Python code that public
integrations use, in one process, on the same inputs (built outside the timed bodies).

Targets (the core's design goals, docs/core.md): ``tokenize`` of cp949 event bodies >= 2,000,000 events/s and >= 6x the
split-on-``|``-then-first-``:`` parser; ``decode_batch`` + ``tokenize_batch`` over one buffer of
1,000,000 frames >= 1 GB/s (1,000 MB/s) and >= 20x the pure twin.

The compiled ``tokenize`` decodes field strings on first use, so "tokenize" alone measures
bytes -> Message; the "+ to_dict()" and "+ .fields" rows show the cost when every field
string is created as well.
"""
from __future__ import annotations

import random
import struct

from lgucore import batch as _batch, frames as _frames, tokens as _tokens

C_TOK, PY_TOK = _tokens.c, _tokens.py
C_FR, PY_FR = _frames.c, _frames.py
C_BA, PY_BA = _batch.c, _batch.py

_TEMPLATES = [
    "RINGEVENT|ISDIAL:{d}|CHANNEL:SIP/{ext}-{h1}|RECHANNEL:SIP/5060-{h2}|INEXTEN:070xxxx{ext4}"
    "|AGENT:{ext}|CALLERID:010xxxx{n4}|UNIQUEID:{uid}",
    "CHANNELLIST|CHANNEL1:SIP/5060-{h2}|CHANNEL2:SIP/{ext}-{h1}|CALLER1ID:010xxxx{n4}|CALLER2ID:{ext}"
    "|INEXTEN:|UNIQUEID1:{uid}|UNIQUEID2:{uid2}",
    "CHANNELOUT|CHANNEL:SIP/{ext}-{h1}|RECHANNEL:SIP/5060-{h2}|UNIQUEID:{uid2}|SRCUNIQUEID:{uid}|HCAUSE:16",
    "LOGINRESULT|STATUS:1|EXTEN:{ext}|CALLERID:070xxxx{ext4}|DOMAIN:premium_c_12.lgdacom.net"
    "|MSG:{ext},070xxxx{ext4},tmpid{ext4}@ipcctest.com",
    "CMDRESULT|CMD:GETPEERINFO|{ext4}:OK:CONN|3457:OK:NOT|3458:OK:CONN|3459:NOT:NOT",
    "RECVPEERMSG|FROM:{ext4}|MSG:우리는 민족 회의실 {n4}호로 오세요",
    "RECVSMS FROM:010xxxx{n4} MESSAGE: 테스트 메시지 {n4} 입니다 SMSTO:070xxxx{ext4}",
    "CDREVENT|CHANNEL:SIP/{ext}-{h1}|UNIQUEID:{uid}|SRC:{ext}|DST:010xxxx{n4}|DISPOSITION:ANSWERED"
    "|DURATION:{n2}|BILLSEC:{n3}",
]
# RINGEVENT and CHANNELLIST dominate real traffic
_WEIGHTS = [4, 4, 3, 1, 1, 1, 1, 1]


def event_bodies(n: int, charset: str = "cp949", seed: int = 7) -> list:
    """``n`` realistic event bodies (~100-180 bytes, mostly ASCII, some Korean), all different."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        t = rnd.choices(_TEMPLATES, _WEIGHTS)[0]
        ext = str(rnd.randint(3000, 3999) if rnd.random() < 0.7 else 10010000 + rnd.randint(0, 9999))
        uid = f"{rnd.randint(1315000000, 1449999999)}.{rnd.randint(1, 999999)}"
        uid2 = f"{uid.split('.')[0]}.{rnd.randint(1, 999999)}"
        text = t.format(d=rnd.randint(0, 1), ext=ext, ext4=ext[-4:], h1=f"{rnd.getrandbits(32):08x}",
                        h2=f"{rnd.getrandbits(32):08x}", n4=f"{rnd.randint(0, 9999):04d}", uid=uid,
                        uid2=uid2, n2=rnd.randint(0, 600), n3=rnd.randint(0, 600))
        out.append(text.encode(charset))
    return out


def naive_parse(body: bytes, charset: str = "cp949") -> dict:
    """What public integrations do: decode, split on ``|``, split each field at its first ``:``."""
    return dict(p.split(":", 1) for p in body.decode(charset).split("|")[1:])


def frame_buffer(nframes: int, byteorder: str = "big", distinct: int = 2000) -> bytes:
    """One buffer of ``nframes`` TEXT frames of event bodies (a block of distinct ones repeated)."""
    enc = PY_FR.encode_frame
    block = b"".join(enc(1, b, byteorder=byteorder) for b in event_bodies(min(distinct, nframes)))
    reps, rest = divmod(nframes, min(distinct, nframes))
    tail = b"".join(enc(1, b, byteorder=byteorder) for b in event_bodies(rest, seed=8))
    return block * reps + tail


def bench_tokenize(report, charset: str, n: int) -> None:
    """bytes -> Message for a list of event bodies: events/s."""
    bodies = event_bodies(n, charset)
    scenario = f"tokenize {charset} events (avg {sum(map(len, bodies)) // n} B)"

    def naive():
        for b in bodies:
            naive_parse(b, charset)

    report.add(scenario, "naive split parser", n / report.timeit(naive), "events/s", baseline=True)
    for tag, mod in (("compiled", C_TOK), ("pure twin", PY_TOK)):
        if mod is None:
            continue
        tok = mod.tokenize
        if charset == "cp949":
            def run():
                for b in bodies:
                    tok(b)
        else:
            def run():
                for b in bodies:
                    tok(b, charset=charset)
        report.add(scenario, tag, n / report.timeit(run), "events/s")
        if mod is C_TOK:
            def run_dict():
                for b in bodies:
                    tok(b, charset=charset).to_dict()

            def run_fields():
                for b in bodies:
                    tok(b, charset=charset).fields

            def run_get():
                for b in bodies:
                    tok(b, charset=charset).get("UNIQUEID")

            report.add(scenario, f"{tag} + get()", n / report.timeit(run_get), "events/s")
            report.add(scenario, f"{tag} + to_dict()", n / report.timeit(run_dict), "events/s")
            report.add(scenario, f"{tag} + .fields", n / report.timeit(run_fields), "events/s")
    # the twins agree on these inputs (a benchmark of wrong answers is worthless)
    if C_TOK is not None:
        assert [C_TOK.tokenize(b, charset=charset) for b in bodies[:200]] == \
               [PY_TOK.tokenize(b, charset=charset) for b in bodies[:200]]


def bench_feed(report, nframes: int, chunk: int) -> None:
    """FrameDecoder.feed over a stream cut into ``chunk``-byte pieces: MB/s."""
    data = frame_buffer(nframes)
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    label = f"{chunk // 1024} KiB" if chunk >= 1024 else f"{chunk} B"
    scenario = f"FrameDecoder.feed, {nframes:,} frames in {label} pieces"

    def make(mod):
        def run():
            d = mod.FrameDecoder()
            for p in pieces:
                d.feed(p)
        return run

    t = report.timeit(make(PY_FR))
    report.add(scenario, "pure twin", len(data) / t / 1e6, "MB/s", baseline=True)
    report.add(scenario + " (frames/s)", "pure twin", nframes / t, "frames/s", baseline=True)
    if C_FR is not None:
        t = report.timeit(make(C_FR))
        report.add(scenario, "compiled", len(data) / t / 1e6, "MB/s")
        report.add(scenario + " (frames/s)", "compiled", nframes / t, "frames/s")


def struct_split_pipeline(buf: bytes, charset: str = "cp949") -> int:
    """The plain-Python pipeline: ``struct.unpack_from`` each header, decode, split into a dict.

    Each dict is handed on and dropped (as the naive tokenize baseline does), so the garbage
    collector's cost of keeping a million dicts alive is not charged to the baseline.
    """
    unpack = struct.Struct(">HH").unpack_from
    count = 0
    pos, end = 0, len(buf)
    while end - pos >= 4:
        _, n = unpack(buf, pos)
        if end - pos - 4 < n:
            break
        body = buf[pos + 4 : pos + 4 + n]
        dict(p.split(":", 1) for p in body.decode(charset).split("|")[1:])
        count += 1
        pos += 4 + n
    return count


def bench_batch(report, nframes: int, pure_frames: int, naive_frames: int) -> None:
    """decode_batch + tokenize_batch over one buffer: MB/s and frames/s."""
    buf = frame_buffer(nframes)
    scenario = f"decode_batch+tokenize_batch, {nframes:,} frames ({len(buf) / 1e6:.0f} MB)"
    small_pure = buf[: len(frame_buffer(pure_frames))]
    small_naive = buf[: len(frame_buffer(naive_frames))]

    t = report.timeit(lambda: struct_split_pipeline(small_naive), repeat=3)
    report.add(scenario, f"struct.unpack_from+split ({naive_frames:,}-frame slice)",
               len(small_naive) / t / 1e6, "MB/s", baseline=True)

    def pure():
        PY_BA.tokenize_batch(PY_BA.decode_batch(small_pure))

    t = report.timeit(pure, repeat=3)
    report.add(scenario, f"pure twin ({pure_frames:,}-frame slice)", len(small_pure) / t / 1e6, "MB/s")
    per_second = scenario + " (frames/s)"
    report.add(per_second, f"pure twin ({pure_frames:,}-frame slice)", pure_frames / t, "frames/s", baseline=True)
    if C_BA is not None:
        t = report.timeit(lambda: C_BA.tokenize_batch(C_BA.decode_batch(buf)))
        report.add(scenario, "compiled", len(buf) / t / 1e6, "MB/s")
        report.add(per_second, "compiled", nframes / t, "frames/s")
        t = report.timeit(lambda: C_BA.decode_batch(buf))
        report.add(f"decode_batch only, {nframes:,} frames", "compiled", len(buf) / t / 1e6, "MB/s")
        fb = C_BA.decode_batch(buf)
        t = report.timeit(lambda: C_BA.tokenize_batch(fb))
        report.add(f"tokenize_batch only, {nframes:,} frames", "compiled", len(buf) / t / 1e6, "MB/s")
        del fb
        # correctness on the slice: the compiled columns give the pure twin's messages
        check = small_pure[: len(frame_buffer(min(pure_frames, 500)))]
        assert C_BA.tokenize_batch(C_BA.decode_batch(check)).messages() == \
               PY_BA.tokenize_batch(PY_BA.decode_batch(check)).messages()


def run(report) -> None:
    """All core scenarios into ``report`` (see bench/_harness.py)."""
    quick = getattr(report, "quick", False)
    if C_TOK is None or C_FR is None or C_BA is None:
        print("bench_core: compiled twins not built; reporting the pure twin and baselines only")
    n = 300 if quick else 20_000
    bench_tokenize(report, "cp949", n)
    bench_tokenize(report, "utf-8", n)
    bench_feed(report, 2_000 if quick else 100_000, 64 << 10)
    bench_feed(report, 300 if quick else 20_000, 7)
    if quick:
        bench_batch(report, 5_000, 500, 1_000)
    else:
        bench_batch(report, 1_000_000, 20_000, 100_000)
