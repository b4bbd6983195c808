"""Build script: cythonize the compiled twins of lgucore.

``LGUCORE_NO_EXTENSIONS=1`` skips the extensions entirely (pure-Python build);
``LGUCORE_DEBUG=1`` compiles with line tracing and bounds checks on.
"""
import os
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent
NO_EXTENSIONS = os.environ.get("LGUCORE_NO_EXTENSIONS", "") not in ("", "0")
DEBUG = os.environ.get("LGUCORE_DEBUG", "") not in ("", "0")


def extensions():
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
            extra_compile_args=["-O3"] if not DEBUG else ["-O0", "-g"],
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
    return cythonize(exts, compiler_directives=directives, quiet=True)


setup(ext_modules=extensions())
