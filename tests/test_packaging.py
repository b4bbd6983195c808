"""Install anywhere: the metadata, the sdist (tests, docs, LICENSE; its tests run unpacked), the
fallback to the pure twin without a C compiler, and the cibuildwheel configuration."""
from __future__ import annotations

import email
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from kit.locks import source_copy, source_tree_lock

pytestmark = pytest.mark.slow  # packaging, not the twins: once per `make test`

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LGUCORE_NO_EXTENSIONS", "LGUCORE_REQUIRE_EXTENSIONS", "LGUCORE_DEBUG")}
    env.update(extra)
    return env


def test_metadata_license_urls_and_classifiers():
    project = PYPROJECT["project"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(project["urls"])
    classifiers = set(project["classifiers"])
    for c in ("Natural Language :: Korean", "Natural Language :: English", "Operating System :: POSIX :: Linux",
              "Operating System :: MacOS", "Operating System :: Microsoft :: Windows",
              "Programming Language :: Python :: 3.11", "Typing :: Typed"):
        assert c in classifiers, c
    assert project["dynamic"] == ["version"]  # from lguapi/_version.py, the one place it is written


def test_version_has_one_source():
    import lguapi
    from lguapi import _version

    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lguapi._version.__version__"}
    assert lguapi.__version__ == _version.__version__
    assert "version =" not in (ROOT / "pyproject.toml").read_text(encoding="utf-8").split("[project.urls]")[0]


@pytest.mark.parametrize("platform, expected", [
    ("linux", {"cp311-manylinux_x86_64", "cp311-manylinux_aarch64", "cp311-musllinux_x86_64",
               "cp311-musllinux_aarch64", "cp313-manylinux_x86_64"}),
    ("macos", {"cp311-macosx_x86_64", "cp311-macosx_arm64", "cp313-macosx_arm64"}),
    ("windows", {"cp311-win_amd64", "cp311-win32", "cp313-win32"}),
])
def test_cibuildwheel_builds_every_os(platform, expected, tmp_path):
    exe = Path(sys.executable).with_name("cibuildwheel")
    r = subprocess.run([str(exe), "--print-build-identifiers", "--platform", platform, str(ROOT)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path, env=clean_env())
    assert r.returncode == 0, r.stderr
    ids = set(r.stdout.split())
    assert expected <= ids, ids
    assert not any("pp" in i or "i686" in i for i in ids), ids
    config = PYPROJECT["tool"]["cibuildwheel"]
    assert "tests/core" in config["test-command"] and config["environment"]["LGUCORE_REQUIRE_EXTENSIONS"] == "1"
    assert (ROOT / ".github" / "workflows" / "wheels.yml").read_text(encoding="utf-8").count("cibuildwheel") >= 2


def pip_wheel(out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    tree = source_copy(out.parent)
    return subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                           "-w", str(out), str(tree)], capture_output=True, text=True, timeout=600, env=env,
                          cwd=out.parent)


def test_no_compiler_falls_back_to_the_pure_twin_with_a_warning(tmp_path):
    # a compiler that does not exist: what a machine without gcc/MSVC gives setuptools
    env = clean_env(CC="/nonexistent/cc", LDSHARED="/nonexistent/cc -shared")
    r = pip_wheel(tmp_path / "wheels", env)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "/nonexistent/cc" in r.stdout + r.stderr  # it did try to compile
    out = r.stdout + r.stderr
    assert "WARNING: lgucore's compiled core could not be built" in out
    assert "LGUCORE_REQUIRE_EXTENSIONS=1" in out
    (wheel,) = (tmp_path / "wheels").glob("lguapi-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.endswith((".so", ".pyd", ".c"))], names
    assert "lgucore/_build_fallback.txt" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import warnings, sys; warnings.simplefilter('always');\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    import lgucore\n"
            "print(lgucore.HAS_EXTENSIONS, lgucore.__file__.startswith(sys.argv[1]), [str(x.message) for x in w])")
    r = subprocess.run([sys.executable, "-c", code, str(site)], capture_output=True, text=True, timeout=120,
                       env=clean_env(PYTHONPATH=str(site)), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("False True ") and "compiled core was not built at install" in r.stdout


def test_require_extensions_makes_a_missing_compiler_an_error(tmp_path):
    env = clean_env(CC="/nonexistent/cc", LDSHARED="/nonexistent/cc -shared", LGUCORE_REQUIRE_EXTENSIONS="1")
    r = pip_wheel(tmp_path / "wheels", env)
    assert r.returncode != 0
    assert not list((tmp_path / "wheels").glob("*.whl"))


def test_sdist_has_tests_docs_license_and_its_tests_run_unpacked(tmp_path):
    with source_tree_lock():  # the sdist is built in the checkout (src/*.egg-info)
        r = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(tmp_path),
                            str(ROOT)], capture_output=True, text=True, timeout=600, env=clean_env(), cwd=tmp_path)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    (sdist,) = tmp_path.glob("lguapi-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        top = names[0].split("/")[0]
        rel = {n.split("/", 1)[1] for n in names if "/" in n}
        for must in ("LICENSE", "README.md", "Makefile", "setup.py", "tests/conftest.py", "tests/core/test_frames.py",
                     "docs/cli.md", "src/lgucore/_frames_c.pyx", "src/lguapi/cli.py", "bench/test_micro.py"):
            assert must in rel, must
        assert not [n for n in rel if n.endswith((".c", ".so", ".html", ".pyc"))]
        tar.extractall(tmp_path / "unpacked", filter="data")
    meta = email.message_from_string((tmp_path / "unpacked" / top / "PKG-INFO").read_text(encoding="utf-8"))
    assert meta["License-Expression"] == "MIT" and "Natural Language :: Korean" in meta.get_all("Classifier")
    # the unpacked tree's own tests, on its own sources (pure twin: nothing is compiled there)
    unpacked = tmp_path / "unpacked" / top
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/core/test_frames.py",
                        "tests/core/test_tokens.py", "tests/test_events.py", "tests/test_client_commands.py"], capture_output=True, text=True, timeout=600, cwd=unpacked,
                       env=clean_env(PYTHONPATH=str(unpacked / "src"), LGUCORE_NO_EXTENSIONS="1"))
    assert r.returncode == 0, r.stdout[-4000:]
    assert " passed" in r.stdout
    import_check = subprocess.run([sys.executable, "-c", "import lgucore, sys; print(lgucore.__file__)"],
                                  capture_output=True, text=True, cwd=unpacked,
                                  env=clean_env(PYTHONPATH=str(unpacked / "src"), LGUCORE_NO_EXTENSIONS="1"))
    assert import_check.stdout.startswith(str(unpacked)), import_check.stdout
