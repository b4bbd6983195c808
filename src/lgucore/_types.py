"""Plain value types shared by the pure and the compiled implementations."""
from __future__ import annotations

from typing import NamedTuple, Union

__all__ = ["Buffer", "Frame", "TEXT", "TEXT_BASIC", "TEXT_SEED", "HEARTBEAT", "HEARTBEAT_ACK", "FRAME_TYPES"]

#: what the codecs accept as input: any bytes-like object
Buffer = Union[bytes, bytearray, memoryview]

TEXT = 0x0001
TEXT_BASIC = 0x0002
TEXT_SEED = 0x0003
HEARTBEAT = 0x0010
HEARTBEAT_ACK = 0x0011

#: Frame type -> name, for the types of docs/protocol.md §2. Anything else is "unknown".
FRAME_TYPES = {
    TEXT: "TEXT",
    TEXT_BASIC: "TEXT_BASIC",
    TEXT_SEED: "TEXT_SEED",
    HEARTBEAT: "HEARTBEAT",
    HEARTBEAT_ACK: "HEARTBEAT_ACK",
}


class Frame(NamedTuple):
    """One decoded frame: its 16-bit ``type`` and its ``body`` bytes.

    A frame of a type not in :data:`FRAME_TYPES` is still returned (``known`` is False):
    docs/protocol.md §2 says it is reported, never dropped.
    """

    type: int
    body: bytes

    @property
    def known(self) -> bool:
        return self.type in FRAME_TYPES

    @property
    def type_name(self) -> str:
        return FRAME_TYPES.get(self.type, f"UNKNOWN(0x{self.type:04x})")
