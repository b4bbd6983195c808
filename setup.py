"""Build script: cythonize the compiled twins of lgucore and of the call tracker's hot modules.

The tracker's twin is its pure hot modules (``TRACKER_PARTS``) joined into one module and
compiled, typed by their augmenting ``.pxd`` files, as ``lguapi.calls._c.core`` (the joined
source goes to ``build/tracker``, its C to ``build/cython``, never into ``src``);
``lguapi.calls._twin`` picks it at import.

``LGUCORE_NO_EXTENSIONS=1`` skips the extensions entirely (pure-Python build);
``LGUCORE_DEBUG=1`` compiles with line tracing and bounds checks on;
``LGUCORE_REQUIRE_EXTENSIONS=1`` makes a failed compilation an error. Without it, a
machine with no working C compiler gets the pure-Python twin and a warning, not a
compiler traceback.

Release flags per compiler: ``-O3 -g0`` (and ``-s`` when linking on Linux) for gcc and
clang, ``/O2`` for MSVC; wheels carry no debug symbols and no generated ``.c`` files.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
NO_EXTENSIONS = os.environ.get("LGUCORE_NO_EXTENSIONS", "") not in ("", "0")
REQUIRE_EXTENSIONS = os.environ.get("LGUCORE_REQUIRE_EXTENSIONS", "") not in ("", "0")
DEBUG = os.environ.get("LGUCORE_DEBUG", "") not in ("", "0")

#: written into the built package when the compiled core could not be built (read by lgucore._env)
FALLBACK_NOTE = "_build_fallback.txt"
FALLBACK_WARNING = """
WARNING: lgucore's compiled core could not be built ({cause}).
         Installing the pure-Python twin instead: the same behaviour, much slower
         (lgucore.HAS_EXTENSIONS is False). Install a C compiler (gcc, clang or MSVC)
         and reinstall for the compiled core; set LGUCORE_REQUIRE_EXTENSIONS=1 to make
         this an error.
"""


def _compile_flags(compiler_type: str) -> tuple[list[str], list[str]]:
    """(compile, link) flags for one compiler family."""
    if compiler_type == "msvc":
        return (["/Od", "/Zi"], ["/DEBUG"]) if DEBUG else (["/O2"], [])
    if DEBUG:
        return ["-O0", "-g"], []
    link = ["-s"] if sys.platform.startswith("linux") else []
    return ["-O3", "-g0"], link


#: the call tracker's compiled core: optimise, but not at -O3 (no faster there, a larger wheel)
_CORE_FLAG = {"-O3": "-O2"}
#: modules built with _CORE_FLAG: the tracker's core, and the batch decoder (replay's hot loop sits
#: in CPython's allocator and the Builder, not in its own code: -O2 is as fast there, and smaller)
_O2_MODULES = ("lguapi.calls._c.", "lgucore._batch_c")


class OptionalBuildExt(build_ext):
    """build_ext that falls back to the pure twin when the compiler is missing or fails."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as e:  # no compiler at all: DistutilsPlatformError, CompileError ...
            self._fallback(e)

    def build_extensions(self) -> None:
        cflags, lflags = _compile_flags(self.compiler.compiler_type)
        for ext in self.extensions:
            # the tracker's core: -O2 is as fast as -O3 there and 13% smaller (-Os: 3% slower)
            flags = [_CORE_FLAG.get(f, f) for f in cflags] if ext.name.startswith(_O2_MODULES) else cflags
            ext.extra_compile_args = list(ext.extra_compile_args or []) + flags
            ext.extra_link_args = list(ext.extra_link_args or []) + lflags
        self._note().unlink(missing_ok=True)  # a note left by an earlier failed build
        super().build_extensions()

    def _note(self) -> Path:
        return Path(self.get_ext_fullpath("lgucore._marker")).parent / FALLBACK_NOTE

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as e:
            self._fallback(e)

    def _fallback(self, error: BaseException) -> None:
        if REQUIRE_EXTENSIONS:
            raise error
        cause = f"{type(error).__name__}: {error}".strip().splitlines()[0][:200]
        sys.stderr.write(FALLBACK_WARNING.format(cause=cause))
        # pip hides build output: leave a note that lgucore turns into a warning at import
        note = self._note()
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(cause + "\n", encoding="utf-8")


#: the pure modules whose code the call tracker's compiled twin holds, in this order, as ONE module
#: (every call between them a C call); the same tuple as lguapi.calls._twin.PARTS
TRACKER_PARTS = ("lguapi.channels", "lguapi.calls.index", "lguapi.calls.timers", "lguapi.calls.state",
                 "lguapi.calls.hints",
                 "lguapi.calls.book", "lguapi.calls.handlers", "lguapi.calls.handlers_more",
                 "lguapi.calls.feed")
#: the compiled twin's modules (the same tuple as lguapi.calls._twin.HOT_MODULES)
TRACKER_HOT_MODULES = ("core",)
#: where the joined source of lguapi.calls._c.core and its declarations are written (never into src)
TRACKER_BUILD = Path("build") / "tracker"


def joined_source(suffix: str) -> str:
    """The parts' ``.py`` (or ``.pxd``) files as one module: each part's imports of another part
    dropped (they are one module now), ``from __future__`` once at the top."""
    parts = set(TRACKER_PARTS) | {"." + m.rsplit(".", 1)[1] for m in TRACKER_PARTS if m.startswith("lguapi.calls.")}
    head = "from __future__ import annotations\n" if suffix == ".py" else "cimport cython\n"
    chunks = [head]
    for module in TRACKER_PARTS:
        path = HERE / "src" / Path(*module.split("."))
        path = path.with_suffix(suffix)
        if not path.is_file():
            continue
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"(?:from (\S+) c?import |cimport cython$)", line)
            if line.startswith("from __future__ ") or line == "cimport cython" or (m and m.group(1) in parts):
                if line.rstrip().endswith(("(", "\\")):
                    raise ValueError(f"{path}: an import of another part must fit on one line: {line}")
                line = "# " + line  # keeps the line numbers of each part readable
            lines.append(line)
        chunks.append(f"# ---- {module} ({path.relative_to(HERE)})\n" + "\n".join(lines) + "\n")
    return "\n".join(chunks)


def _write_joined(path: Path, text: str) -> None:
    """Write ``path`` when its text changed or a part is newer (a rebuild then follows, so the
    compiled twin is never older than its sources; tests/test_calls_twin.py checks that)."""
    newest = max((HERE / "src" / Path(*m.split("."))).with_suffix(".py").stat().st_mtime for m in TRACKER_PARTS)
    newest = max([newest] + [p.stat().st_mtime for p in (HERE / "src" / "lguapi").glob("**/*.pxd")])
    if not path.is_file() or path.read_text(encoding="utf-8") != text or path.stat().st_mtime < newest:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def tracker_extensions(directives: dict, macros: list) -> list[Extension]:
    """The call tracker's hot modules (:data:`TRACKER_PARTS`) joined and compiled as ``lguapi.calls._c.core``.

    The joined ``core.py`` is typed by the parts' augmenting ``.pxd`` files, joined the same
    way into ``core.pxd``; everything else keeps Python's semantics: annotations stay
    annotations (``annotation_typing`` off), negative indexes and bounds are checked,
    division is Python's; so the compiled twin behaves exactly as the pure one."""
    from Cython.Build import cythonize

    package = TRACKER_BUILD / "lguapi" / "calls" / "_c"  # a package tree: Cython finds core.pxd by the module's name
    for d in (package, package.parent, package.parent.parent):
        _write_joined(HERE / d / "__init__.py", "")
    _write_joined(HERE / package / "core.pxd", joined_source(".pxd"))
    _write_joined(HERE / package / "core.py", joined_source(".py"))
    calls = HERE / "src" / "lguapi" / "calls"  # the lgu_*.h its .pxd files include
    exts = [Extension("lguapi.calls._c.core", [str(package / "core.py")], define_macros=macros,
                      include_dirs=[str(calls.relative_to(HERE))],
                      depends=[str(h.relative_to(HERE)) for h in sorted(calls.glob("*.h"))])]
    python_semantics = {"annotation_typing": False, "wraparound": True, "boundscheck": True, "cdivision": False}
    return cythonize(exts, compiler_directives={**directives, **python_semantics}, build_dir="build/cython",
                     quiet=True)


def extensions() -> list[Extension]:
    if NO_EXTENSIONS:
        return []
    from Cython.Build import cythonize

    sources = sorted((HERE / "src" / "lgucore").glob("*.pyx"))
    macros = [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")] if DEBUG else []
    exts = [
        Extension(
            f"lgucore.{src.stem}",
            [str(src.relative_to(HERE))],
            include_dirs=[str((HERE / "src" / "lgucore").relative_to(HERE))],  # the lgu_*.h beside the .pyx
            depends=[str(h.relative_to(HERE)) for h in sorted((HERE / "src" / "lgucore").glob("*.h"))],
            define_macros=macros,
        )
        for src in sources
    ]
    directives = {
        "language_level": "3",
        "embedsignature": True,
        "linetrace": DEBUG,
        "boundscheck": DEBUG,
        "wraparound": False,
        "cdivision": True,
    }
    return cythonize(exts, compiler_directives=directives, quiet=True) + tracker_extensions(directives, macros)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
