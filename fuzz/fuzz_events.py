"""Fuzz target: typed events from any body (``lguapi.events.parse_event``), equal on both twins' messages."""
from __future__ import annotations

from _harness import instrumented, run, twins

with instrumented():
    from lguapi.events import Event, parse_event

IMPLS = twins()
NAMES = (b"RINGEVENT|", b"CHANNELLIST|", b"CHANNELOUT|", b"CMDRESULT|", b"CONFERENCEEVENT|", b"CDREVENT|",
         b"LOGINRESULT|", b"DTMFEVENT|", b"RECVSMS|", b"BYE|", b"CMDERROR|", b"")


def test_one_input(data: bytes) -> None:
    body = NAMES[data[0] % len(NAMES)] + data[1:] if data else b""
    events = []
    for impl in IMPLS:
        ev = parse_event(impl.tokenize(body), exten="3321", ts=1.0)
        if not isinstance(ev, Event) or ev.exten != "3321":
            raise AssertionError(f"parse_event gave {ev!r}")
        repr(ev)
        events.append(ev)
    if any(e != events[0] or type(e) is not type(events[0]) for e in events):
        raise AssertionError(f"events differ between twins for {body[:64]!r}: {events}")


if __name__ == "__main__":
    run(test_one_input)
