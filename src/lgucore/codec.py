"""Text frames under a session cipher (docs/protocol.md §5), shared by client and emulator.

This composes the twinned primitives; it holds no byte-level loop of its own.
"""
from __future__ import annotations

from ._types import HEARTBEAT, HEARTBEAT_ACK, TEXT, TEXT_BASIC, TEXT_SEED, Buffer, Frame
from .cipher import DEFAULT_BASIC_KEY, DEFAULT_SEED_KEY, Seed, basic_decrypt, basic_encrypt, seed_open, seed_seal
from .errors import FrameError
from .frames import MAX_BODY, encode_frame

__all__ = ["TextCodec", "CIPHERS", "cipher_of"]

#: cipher name -> frame type
CIPHERS = {"none": TEXT, "basic": TEXT_BASIC, "seed": TEXT_SEED}
_NAME_OF = {v: k for k, v in CIPHERS.items()}


def cipher_of(ftype: int) -> str | None:
    """The cipher name a text frame type implies, or ``None`` for a non-text frame."""
    return _NAME_OF.get(ftype)


class TextCodec:
    """Encode and decode text frames for one session.

    ``cipher`` is ``"seed"``, ``"basic"`` or ``"none"``; keys default to the vendor's.
    :meth:`decode` opens a frame of *any* text type (a server answers in the cipher
    the client chose), raising :class:`~lgucore.CipherError` on a bad body.

    >>> codec = TextCodec("basic")
    >>> codec.decode(Frame(*_split(codec.encode(b"PING"))))
    b'PING'
    """

    __slots__ = ("cipher", "frame_type", "byteorder", "_seed", "_basic_key", "max_plain")

    def __init__(self, cipher: str = "seed", *, seed_key: Buffer | Seed = DEFAULT_SEED_KEY,
                 basic_key: Buffer = DEFAULT_BASIC_KEY,
                 byteorder: str = "big") -> None:
        if cipher not in CIPHERS:
            raise ValueError(f"cipher must be one of {sorted(CIPHERS)}, not {cipher!r}")
        if byteorder not in ("big", "little"):
            raise ValueError(f"byteorder must be 'big' or 'little', not {byteorder!r}")
        self.cipher: str = cipher
        self.frame_type: int = CIPHERS[cipher]
        self.byteorder = byteorder
        self._seed = seed_key if isinstance(seed_key, Seed) else Seed(bytes(seed_key))
        basic_key = bytes(basic_key)
        if not basic_key:
            raise ValueError("basic_key must not be empty")
        self._basic_key = basic_key
        #: the longest plain text one frame can carry under this cipher
        self.max_plain: int = _max_plain(cipher)

    def __repr__(self) -> str:  # keys stay out of reprs
        return f"<TextCodec cipher={self.cipher} byteorder={self.byteorder}>"

    def seal(self, plain: Buffer) -> bytes:
        """The frame body for ``plain`` under this session's cipher."""
        return self.seal_as(self.cipher, plain)

    def seal_as(self, cipher: str, plain: Buffer) -> bytes:
        if cipher == "seed":
            return seed_seal(plain, self._seed)
        if cipher == "basic":
            return basic_encrypt(plain, self._basic_key)
        if cipher == "none":
            return bytes(plain)
        raise ValueError(f"unknown cipher {cipher!r}")

    def encode(self, plain: Buffer, cipher: str | None = None) -> bytes:
        """A whole text frame carrying ``plain`` (raises FrameError when it is too long)."""
        c = cipher or self.cipher
        body = self.seal_as(c, plain)
        if len(body) > MAX_BODY:
            raise FrameError(f"{len(plain)} bytes of text make a {len(body)}-byte {c} body, over 65535; split it")
        return encode_frame(CIPHERS[c], body, byteorder=self.byteorder)

    def open(self, ftype: int, body: Buffer) -> bytes:
        """The plain text of a text frame body of type ``ftype``."""
        if ftype == TEXT_SEED:
            return seed_open(body, self._seed)
        if ftype == TEXT_BASIC:
            return basic_decrypt(body, self._basic_key)
        if ftype == TEXT:
            return bytes(body)
        raise FrameError(f"frame type 0x{ftype:04x} is not a text frame")

    def decode(self, frame: Frame) -> bytes:
        return self.open(frame.type, frame.body)

    def heartbeat(self, token: Buffer = b"") -> bytes:
        return encode_frame(HEARTBEAT, token, byteorder=self.byteorder)

    def heartbeat_ack(self, token: Buffer = b"") -> bytes:
        return encode_frame(HEARTBEAT_ACK, token, byteorder=self.byteorder)


def _max_plain(cipher: str) -> int:
    if cipher == "none":
        return MAX_BODY
    if cipher == "basic":
        # len(B64(B64(n))) <= 65535
        n = MAX_BODY // 4 * 3  # inner b64 length bound
        return n // 4 * 3
    # B64(16 + padded) <= 65535 -> padded <= 49149 - 16, whole blocks, minus one pad byte
    raw = MAX_BODY // 4 * 3 - 16
    return raw // 16 * 16 - 1


def _split(frame: bytes):
    import struct

    t, n = struct.unpack(">HH", frame[:4])
    return t, frame[4 : 4 + n]
