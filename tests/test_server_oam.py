"""OAM discovery (docs/protocol.md §6) over real HTTPS/HTTP on 127.0.0.1, and its certificate."""
from __future__ import annotations

import asyncio
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request

import pytest

from kit.httpraw import exchange, parse_replies, request
from lguapi.server.accounts import Directory
from lguapi.server.oam import OamServer, format_serverinfo, parse_hostport
from lguapi.server.tlscert import client_context, generate_self_signed, write_self_signed

DIRECTORY = Directory.generate("3001-3003")
KNOWN = "07012343002"


def _strict(ca_file: str) -> ssl.SSLContext:
    ctx = client_context(ca_file)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT  # what Python 3.13+ enables by default
    return ctx


def _urlopen_post(url: str, form: dict, ctx: ssl.SSLContext | None) -> tuple[int, str]:
    data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return r.status, r.read().decode()


async def test_https_discovery_with_the_generated_ca_trusted(tmp_path):
    async with OamServer(DIRECTORY, port=0, emulator_port=8086, state_dir=str(tmp_path)) as oam:
        assert oam.ca_file == os.path.join(str(tmp_path), "oam-ca.pem") and os.path.exists(oam.ca_file)
        assert oam.url == f"https://127.0.0.1:{oam.port}/oam/serverinfo"
        assert oct(os.stat(oam.key_file).st_mode & 0o777) == "0o600"
        # a stock client that verifies the certificate (host name 127.0.0.1 included)
        status, body = await asyncio.to_thread(_urlopen_post, oam.url, {"id": KNOWN}, _strict(oam.ca_file))
        assert status == 200
        assert body == "SERVERINFO|ADDR:127.0.0.1:8086|BACKUPADDR:127.0.0.1:8086|BACKADDR2:127.0.0.1:8086"
        status, body = await asyncio.to_thread(_urlopen_post, oam.url, {"id": "07099999999"}, _strict(oam.ca_file))
        assert (status, body) == (200, "SERVERINFO|ERROR:-1")
        # by name too: the certificate names localhost
        r = await request(oam.port, "POST", "/oam/serverinfo", form={"id": KNOWN}, host="127.0.0.1",
                          ssl=_strict(oam.ca_file))
        assert r.status == 200 and r.text.startswith("SERVERINFO|ADDR:")
    assert os.path.exists(oam.ca_file)  # a given state dir is kept


async def test_https_refused_without_trusting_the_ca():
    async with OamServer(DIRECTORY, port=0) as oam:
        own_dir = os.path.dirname(oam.ca_file)
        with pytest.raises(urllib.error.URLError) as info:
            await asyncio.to_thread(_urlopen_post, oam.url, {"id": KNOWN}, ssl.create_default_context())
        assert isinstance(info.value.reason, ssl.SSLCertVerificationError)
    assert not os.path.exists(own_dir)  # a generated temporary state dir is removed on close


async def test_unknown_missing_and_empty_ids_and_wrong_requests():
    async with OamServer(DIRECTORY, port=0, tls=False) as oam:
        assert oam.ca_file is None and oam.url.startswith("http://")
        for form in ({"id": "nobody"}, {"id": ""}, {"other": KNOWN}):
            r = await request(oam.port, "POST", "/oam/serverinfo", form=form)
            assert (r.status, r.text) == (200, "SERVERINFO|ERROR:-1"), form
        r = await request(oam.port, "POST", "/oam/serverinfo", body=b"")
        assert (r.status, r.text) == (200, "SERVERINFO|ERROR:-1")
        r = await request(oam.port, "POST", "/oam/serverinfo?id=" + KNOWN, body=b"")
        assert r.text.startswith("SERVERINFO|ADDR:127.0.0.1:8086|")
        r = await request(oam.port, "GET", "/oam/serverinfo")
        assert r.status == 405 and r.headers["allow"] == "POST"
        r = await request(oam.port, "POST", "/oam/other", form={"id": KNOWN})
        assert r.status == 404
        r = await request(oam.port, "POST", "/oam/serverinfo", body=b"id=%ff%fe",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 400 and "form" in r.text
        r = await request(oam.port, "POST", "/oam/serverinfo", body=b"x" * 5000)
        assert r.status == 413
        assert oam.requests == 6


async def test_configured_primary_and_backups_and_a_port_known_after_start():
    port_box = [0]
    oam = OamServer(DIRECTORY, port=0, tls=False, emulator_port=lambda: port_box[0],
                    backup=parse_hostport("10.0.0.2:8087"), backup2=parse_hostport("[::1]:8088"))
    async with oam:
        port_box[0] = 18086
        r = await request(oam.port, "POST", "/oam/serverinfo", form={"id": KNOWN})
        assert r.text == "SERVERINFO|ADDR:127.0.0.1:18086|BACKUPADDR:10.0.0.2:8087|BACKADDR2:::1:8088"
    oam = OamServer(DIRECTORY, port=0, tls=False, primary=("lgu.example", 9000), backup=("10.0.0.2", 8087))
    assert oam.answer(KNOWN) == "SERVERINFO|ADDR:lgu.example:9000|BACKUPADDR:10.0.0.2:8087|BACKADDR2:10.0.0.2:8087"


async def test_wildcard_emulator_host_answers_the_address_the_request_came_to():
    async with OamServer(DIRECTORY, host="127.0.0.1", port=0, tls=False, emulator_host="0.0.0.0",
                         emulator_port=8086) as oam:
        r = await request(oam.port, "POST", "/oam/serverinfo", form={"id": KNOWN})
        assert r.text.startswith("SERVERINFO|ADDR:127.0.0.1:8086|")


async def test_keep_alive_serves_several_lookups_on_one_connection():
    async with OamServer(DIRECTORY, port=0, tls=False) as oam:
        one = (f"POST /oam/serverinfo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               f"Content-Length: {3 + len(KNOWN)}\r\n\r\nid={KNOWN}").encode()
        last = one.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")
        replies = parse_replies(await exchange(oam.port, one + one + last))
        assert [r.status for r in replies] == [200, 200, 200]
        assert [r.headers["connection"] for r in replies] == ["keep-alive", "keep-alive", "close"]
        assert all(r.body.startswith(b"SERVERINFO|ADDR:") for r in replies)


async def test_given_certificate_files(tmp_path):
    files = write_self_signed(str(tmp_path / "mine"), ["127.0.0.1"], prefix="own")
    async with OamServer(DIRECTORY, port=0, cert_file=files.cert, key_file=files.key) as oam:
        assert oam.ca_file == files.cert
        r = await request(oam.port, "POST", "/oam/serverinfo", form={"id": KNOWN}, ssl=_strict(files.ca))
        assert r.text.startswith("SERVERINFO|ADDR:")
    with pytest.raises(ValueError, match="both cert_file and key_file"):
        OamServer(DIRECTORY, cert_file=files.cert)
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    oam = OamServer(DIRECTORY, port=0, cert_file=str(bad), key_file=str(bad))
    with pytest.raises(ValueError, match="cannot load the OAM certificate"):
        await oam.start()
    await oam.close()


def test_generated_certificate_is_valid_x509():
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import padding

    cert_pem, key_pem = generate_self_signed(["localhost", "127.0.0.1", "emu.test"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    # signed by its own key (the signature checks out under the embedded public key)
    cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                             cert.signature_hash_algorithm)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "emu.test"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert cert.public_key().key_size == 2048
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(key_pem, None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    with pytest.raises(ValueError):
        generate_self_signed(["0.0.0.0"])


def test_parse_hostport_and_format():
    assert parse_hostport("10.0.0.5:8086") == ("10.0.0.5", 8086)
    assert parse_hostport("[::1]:8086") == ("::1", 8086)
    assert parse_hostport("emu.local:1") == ("emu.local", 1)
    for bad in ("10.0.0.5", ":8086", "h:0", "h:70000", "h:x", "a|b:1", "a:b:1"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_hostport(bad)
    assert format_serverinfo(("a", 1), ("b", 2), ("c", 3)) == "SERVERINFO|ADDR:a:1|BACKUPADDR:b:2|BACKADDR2:c:3"


async def test_plain_http_or_garbage_on_the_https_port_is_dropped_and_service_goes_on(tmp_path):
    async with OamServer(DIRECTORY, port=0, state_dir=str(tmp_path)) as oam:
        for junk in (b"POST /oam/serverinfo HTTP/1.1\r\nContent-Length: 3\r\n\r\nid=", b"\x00" * 100):
            data = await exchange(oam.port, junk)
            assert b"SERVERINFO" not in data
        r = await request(oam.port, "POST", "/oam/serverinfo", form={"id": KNOWN}, ssl=_strict(oam.ca_file))
        assert r.status == 200 and r.text.startswith("SERVERINFO|ADDR:")
