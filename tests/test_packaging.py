"""`pip wheel .` gives a wheel that installs into a fresh virtualenv and imports the compiled core."""
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_in_fresh_venv_with_compiled_core(tmp_path):
    if os.environ.get("LGUCORE_NO_EXTENSIONS", "") not in ("", "0"):
        pytest.fail("run this test with the compiled core enabled")
    wheels = tmp_path / "wheels"
    env = dict(os.environ)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)],
        check=True, env=env, timeout=600,
    )
    (wheel,) = wheels.glob("lguapi-*.whl")
    assert "none-any" not in wheel.name, f"{wheel.name} is not a platform wheel: extensions were not built"
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    py = target / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=600)
    code = (
        "import lgucore, lguapi, sys;"
        "assert lgucore.HAS_EXTENSIONS, 'compiled core missing';"
        "assert lgucore.__file__.startswith(sys.prefix), lgucore.__file__;"
        "m = lgucore.tokenize(b'CMDRESULT|CMD:HOLD|RES:OK'); assert m.get('RES') == 'OK';"
        "print('ok', lgucore.__file__)"
    )
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LGUCORE_NO_EXTENSIONS")})
    assert out.stdout.startswith("ok ")
