"""The emulator's admin HTTP interface from the tests: one POST helper (see docs/emulator-admin.md)."""
from __future__ import annotations

import aiohttp

from lguapi.server.admin import AdminServer


async def admin_post(admin: AdminServer, path: str, body: dict | None = None) -> dict:
    """POST ``body`` to ``path`` (``/calls``, ``/phones/3001/answer`` ...); the JSON answer, 200/201 asserted."""
    async with aiohttp.ClientSession() as http:
        async with http.post(admin.url + path, json=body or {}) as resp:
            data = await resp.json()
            assert resp.status in (200, 201), (path, resp.status, data)
            return data
