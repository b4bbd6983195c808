"""Fuzz target: the emulator's input path — frames, text ciphers and ``parse_command`` — on any bytes.

Whatever arrives, the session may only see ``FrameError`` (bad header), ``CipherError``
(undecodable body) or ``CommandSyntaxError`` (not a command); a parsed command must be
well formed (upper-case name and argument names, no ``|``/CR/LF in space-form values).
"""
from __future__ import annotations

import re

from _harness import instrumented, run

with instrumented():
    from lgucore import CipherError, FrameDecoder, FrameError, TextCodec, cipher_of
    from lguapi.server.session import CommandSyntaxError, parse_command

CODEC = TextCodec("seed")
_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")


def check(text: str) -> None:
    try:
        cmd = parse_command(text)
    except CommandSyntaxError as exc:
        if not exc.name or "\n" in exc.reason and len(exc.reason) > 10_000:
            raise AssertionError(f"odd syntax error {exc!r}") from None
        return
    if not _NAME.match(cmd.name) or any(not _NAME.match(k) for k in cmd.args):
        raise AssertionError(f"parsed a malformed command {cmd!r} from {text!r}")
    if not cmd.positional:
        for k, v in cmd.args.items():
            if k != "MSG" and ("|" in v or "\r" in v or "\n" in v):
                raise AssertionError(f"unsafe value {k}={v!r} from {text!r}")


def test_one_input(data: bytes) -> None:
    # the bytes as one command text, in both charsets the emulator speaks
    for charset in ("cp949", "utf-8"):
        check(data.decode(charset, "replace"))
    # and as a frame stream, opened like the session opens it
    dec = FrameDecoder(max_body=4096)
    try:
        frames = dec.feed(data)
    except FrameError as exc:
        frames = exc.frames
    for frame in frames:
        if cipher_of(frame.type) is None:
            continue
        try:
            plain = CODEC.open(frame.type, frame.body)
        except CipherError:
            continue
        check(plain.decode("cp949", "replace"))


if __name__ == "__main__":
    run(test_one_input)
