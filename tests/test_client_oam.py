"""OAM discovery over HTTPS (docs/protocol.md §6) with the emulator's OAM server (lguapi.server.oam)."""
from __future__ import annotations

import pytest

from kit.clients import Recorder, creds, emulator
from lguapi import LoggedIn
from lguapi.client import Client
from lguapi.discovery import discover
from lguapi.errors import DiscoveryError
from lguapi.server import Directory
from lguapi.server.oam import OamServer
from lguapi.server.tlscert import write_self_signed


@pytest.fixture(scope="module")
def wrong_host_cert(tmp_path_factory):
    """A certificate valid only for ``wrong.example`` (not for 127.0.0.1)."""
    return write_self_signed(str(tmp_path_factory.mktemp("wrongcert")), hosts=["wrong.example"])


async def test_login_through_oam_with_the_emulator_certificate_trusted():
    async with emulator() as emu:
        async with OamServer(Directory.generate("3001-3010"), port=0, emulator_port=emu.port) as oam:
            client = Client(None, oam=f"127.0.0.1:{oam.port}", oam_ca=oam.ca_file, heartbeat=0)
            rec = Recorder(client)
            result = await client.login(*creds("3001"))
            assert result.ok and client.address == f"127.0.0.1:{emu.port}"
            assert (await rec.wait_for(LoggedIn)).address == client.address
            assert oam.requests == 1
            await client.close()
            # discovery on its own, and an unknown id
            info = await discover(f"https://127.0.0.1:{oam.port}", creds("3002")[0], ca=oam.ca_file)
            assert info.primary == ("127.0.0.1", emu.port) and len(info.backups) == 2
            with pytest.raises(DiscoveryError, match="does not know this user ID"):
                await discover(f"127.0.0.1:{oam.port}", "07000000000", ca=oam.ca_file)


async def test_oam_certificate_not_trusted_is_refused():
    async with OamServer(Directory.generate("3001-3002"), port=0, emulator_port=1) as oam:
        client = Client(None, oam=f"127.0.0.1:{oam.port}", heartbeat=0)  # system CAs only
        with pytest.raises(DiscoveryError, match="certificate that failed verification"):
            await client.login(*creds("3001"))
        assert not client.is_connected
        await client.close()


async def test_oam_certificate_for_another_host_is_refused(wrong_host_cert):
    files = wrong_host_cert
    async with OamServer(Directory.generate("3001-3002"), port=0, emulator_port=1, cert_file=files.cert,
                         key_file=files.key) as oam:
        client = Client(None, oam=f"127.0.0.1:{oam.port}", oam_ca=files.ca, heartbeat=0)
        with pytest.raises(DiscoveryError, match="failed verification.*(mismatch|127.0.0.1)") as ei:
            await client.login(*creds("3001"))
        assert "secret" not in str(ei.value)
        await client.close()


async def test_oam_verification_off_is_explicit_and_warns(wrong_host_cert, caplog):
    files = wrong_host_cert
    async with emulator() as emu:
        async with OamServer(Directory.generate("3001-3002"), port=0, emulator_port=emu.port,
                             cert_file=files.cert, key_file=files.key) as oam:
            client = Client(None, oam=f"127.0.0.1:{oam.port}", oam_verify=False, heartbeat=0)
            with pytest.warns(UserWarning, match="verification is turned off"):
                await client.login(*creds("3002"))
            assert client.is_logged_in
            assert "verification is OFF" in caplog.text
            await client.close()


async def test_oam_over_plain_http_when_asked():
    async with emulator() as emu:
        async with OamServer(Directory.generate("3001-3002"), port=0, emulator_port=emu.port, tls=False) as oam:
            client = Client(None, oam=f"http://127.0.0.1:{oam.port}", heartbeat=0)
            await client.login(*creds("3001"))
            assert client.is_logged_in
            await client.close()


def test_constructor_needs_a_server():
    with pytest.raises(ValueError, match="no server"):
        Client(None)
