"""The documentation site (MkDocs + mkdocstrings, `make docs`) builds in strict mode, and a broken
reference fails the build."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow  # the docs build, not the twins: once per `make test`

ROOT = Path(__file__).resolve().parents[1]


def mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("mkdocs")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([str(exe), "build", "--strict", "-f", str(config), "--site-dir", str(site)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=config.parent)


def test_site_builds_strict_with_the_api_reference(tmp_path):
    r = mkdocs(ROOT / "mkdocs.yml", tmp_path / "site")
    assert r.returncode == 0, r.stderr[-4000:]
    assert "WARNING" not in r.stderr, r.stderr[-4000:]
    client = (tmp_path / "site" / "api" / "client" / "index.html").read_text(encoding="utf-8")
    assert "click2call" in client and "Dial" in client  # the reference comes from the docstrings
    assert (tmp_path / "site" / "architecture" / "index.html").exists()
    assert (tmp_path / "site" / "cli" / "index.html").read_text(encoding="utf-8").count("Exit status") >= 1


def test_a_broken_reference_fails_the_build(tmp_path):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    config["docs_dir"] = str(tmp_path / "docs")
    config["nav"] = [{"Home": "index.md"}]
    config["plugins"][1]["mkdocstrings"]["handlers"]["python"]["paths"] = [str(ROOT / "src")]
    (tmp_path / "docs").mkdir()
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    for page in ("See [the client][lguapi.client.NoSuchClass].\n", "See [a guide](no-such-page.md).\n"):
        (tmp_path / "docs" / "index.md").write_text("# Home\n\n::: lguapi.runtime\n\n" + page, encoding="utf-8")
        r = mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site")
        assert r.returncode != 0, page
        assert "NoSuchClass" in r.stderr or "no-such-page.md" in r.stderr, r.stderr[-2000:]
