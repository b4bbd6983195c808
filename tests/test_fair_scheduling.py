"""Fair scheduling: a flooded connection handles a bounded number of frames per loop turn."""
from __future__ import annotations

import asyncio

import pytest

from lguapi import Client
from lguapi.events import PeerMessageEvent
from lguapi.server.accounts import Directory
from lguapi.server.emulator import Emulator


async def _flood(frames_per_turn: int, n: int, **options) -> tuple[list[int], int]:
    directory = Directory.generate("3001-3002")
    loop = asyncio.get_running_loop()
    per_turn: list[int] = []
    current = [0]
    got = [0]
    done = asyncio.Event()

    def on_msg(ev) -> None:
        assert ev.message == f"m{got[0]}"  # in order, none skipped
        current[0] += 1
        got[0] += 1
        if got[0] == n:
            done.set()

    def ticker() -> None:  # runs once per loop iteration
        per_turn.append(current[0])
        current[0] = 0
        if not done.is_set():
            loop.call_soon(ticker)

    async with Emulator(directory, port=0) as emu:
        c = Client("127.0.0.1", emu.port, heartbeat=5, auto_reconnect=0, frames_per_turn=frames_per_turn,
                   **options)
        c.on(PeerMessageEvent, on_msg)
        await c.login("07012343001", "secret-3001")
        for i in range(n):  # queued on the emulator's side, then read in large chunks
            emu.deliver("3001", f"RECVPEERMSG|FROM:3002|MSG:m{i}")
        loop.call_soon(ticker)
        await asyncio.wait_for(done.wait(), 60)
        await c.close()
    return per_turn, got[0]


async def test_a_flood_is_handled_a_bounded_number_of_frames_per_turn():
    per_turn, got = await _flood(16, 3000)
    assert got == 3000  # nothing lost
    assert max(per_turn) <= 16
    assert sum(1 for x in per_turn if x) >= 3000 // 16  # spread over many turns


async def test_a_read_takes_at_most_read_size_bytes_and_loses_nothing():
    # 2,048 bytes hold at most 43 of the smallest SEED frames (48 bytes) with a held partial one,
    # so a turn never gets near frames_per_turn; frames cut between two reads arrive whole
    per_turn, got = await _flood(64, 3000, read_size=2048)
    assert got == 3000
    assert max(per_turn) <= (2048 + 48) // 48


def test_frames_per_turn_must_be_positive():
    with pytest.raises(ValueError, match="frames_per_turn"):
        Client("127.0.0.1", 8086, frames_per_turn=0)
    with pytest.raises(ValueError, match="read_size"):
        Client("127.0.0.1", 8086, read_size=0)
