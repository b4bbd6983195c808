"""``lguapi gateway`` as a process: ready line, a token from the environment, SIGTERM, exit codes;
and examples/gateway.toml is a valid configuration."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from lguapi.gateway import load_config
from lguapi.server import Directory, Emulator

from kit.clients import dead_port

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "src"), GW_TOKEN="tok-123")


def write_config(tmp_path: Path, upstream_port: int, extra: str = "") -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
[upstream]
port = {upstream_port}
extensions = "3001-3003"
[upstream.client]
auto_reconnect = 0
heartbeat = 0
[http]
port = 8090
[[tokens]]
name = "t"
token_env = "GW_TOKEN"
{extra}""")
    return path


async def start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "lguapi", "gateway", *args, env=ENV,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_runs_until_sigterm_with_flags_over_the_file(tmp_path):
    async with Emulator(Directory.generate("3001-3003"), host="127.0.0.1", port=0) as emu:
        cfg = write_config(tmp_path, emu.port)
        proc = await start("--config", str(cfg), "--port", "0", "--host", "127.0.0.1")
        try:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line.startswith("lguapi-gateway ready url=http://127.0.0.1:") and "extensions=3" in line, line
            url = line.split("url=")[1].split()[0]
            assert not url.endswith(":8090")  # --port 0 won over the file
            async with aiohttp.ClientSession(headers={"Authorization": "Bearer tok-123"}) as http:
                for _ in range(600):  # generous: a loaded machine
                    r = await http.get(url + "/v1/extensions")
                    states = {e["state"] for e in (await r.json())["extensions"]}
                    if states == {"idle"}:
                        break
                    await asyncio.sleep(0.05)
                assert states == {"idle"}
                assert (await http.get(url + "/v1/extensions", headers={"Authorization": "Bearer no"})).status == 401
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = await asyncio.wait_for(proc.wait(), 30)
        assert rc == 0, (await proc.stderr.read()).decode()


async def test_exit_codes(tmp_path):
    proc = await start()
    _, err = await proc.communicate()
    assert proc.returncode == 2 and err.decode().count("\n") == 1 and "--config" in err.decode()
    bad = tmp_path / "bad.toml"
    bad.write_text("[http]\nprot = 1\n")
    proc = await start("--config", str(bad))
    _, err = await proc.communicate()
    assert proc.returncode == 2 and "unknown key" in err.decode()
    cfg = write_config(tmp_path, dead_port())  # nothing listens upstream
    proc = await start("--config", str(cfg), "--port", "0")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 4, err.decode()
    assert out.decode().startswith("lguapi-gateway ready") and "no extension could log in" in err.decode()


def test_the_example_file_is_valid():
    cfg = load_config(ROOT / "examples" / "gateway.toml",
                      environ={"LGUAPI_CRM_TOKEN": "a", "LGUAPI_WALLBOARD_TOKEN": "b"})
    assert cfg.port == 8090 and cfg.host == "127.0.0.1" and [t.name for t in cfg.tokens] == ["crm", "wallboard"]
    assert cfg.tokens[1].mask_numbers and cfg.tokens[1].scopes == {"read"}


async def test_the_demo_gateway_serves_the_demos_own_monitor():
    import io

    from lguapi.gateway.cli import start_demo_gateway
    from lguapi.monitor import Monitor

    directory = Directory.generate("3001-3004")
    async with Emulator(directory, host="127.0.0.1", port=0) as emu:
        monitor = Monitor("127.0.0.1", emu.port, accounts=directory, client_options={"heartbeat": 0})
        out = io.StringIO()
        gateway = await start_demo_gateway(monitor, "3001-3004", out, port=0)
        try:
            await monitor.start()
            assert out.getvalue().startswith(f"wallboard: {gateway.url}/")
            async with aiohttp.ClientSession() as http:  # anonymous on loopback
                r = await http.get(gateway.url + "/v1/extensions")
                assert {e["state"] for e in (await r.json())["extensions"]} == {"idle"}
                r = await http.post(gateway.url + "/v1/extensions/3001/get_var_info", json={"name": "EXTEN"})
                assert (await r.json())["result"] == {"name": "EXTEN", "value": "3001"}
        finally:
            await gateway.close()
            assert monitor.login_progress.done == 4  # the demo closes its monitor itself
            await monitor.close()
