"""The package's compiled hot paths (issue 18, docs/performance.md), optional.

Everything else is in pyproject.toml. Each entry of :data:`EXTENSIONS` is a
Cython module compiled when the package is built (``pip install``,
``python -m build``); its pure-Python twin stays in the package and is used
when the extension is missing (no compiler, no Cython, a failed build) or
when ``TAKEDOWN_PURE=1`` (:mod:`takedown.accel`). A failed compilation is a
warning, never a failed install: a machine without a compiler gets the pure
path. ``TAKEDOWN_BUILD_PURE=1`` skips compiling altogether.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SRC = Path(__file__).resolve().parent / "src"


def _accel():
    """takedown.accel loaded by its path: the package cannot be imported
    before it is built, and accel needs nothing but the standard library."""
    spec = importlib.util.spec_from_file_location("_takedown_accel", SRC / "takedown" / "accel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: (dotted module name, source path): the compiled twins of the hot paths,
#: listed once in src/takedown/hot_paths.txt (takedown.accel.HOT_PATHS reads it too).
EXTENSIONS: list[tuple[str, str]] = [
    (name, os.path.join("src", *name.split(".")) + ".pyx") for name in _accel().HOT_PATHS
]


class OptionalBuildExt(build_ext):
    """build_ext whose failures leave the pure-Python path in place."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as e:  # noqa: BLE001 - no compiler, no headers: the pure path serves
            print(f"takedown: compiled hot paths not built ({e}); the pure-Python path will be used")

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as e:  # noqa: BLE001
            print(f"takedown: {ext.name} not compiled ({e}); its pure-Python twin will be used")


def extensions() -> list:
    if os.environ.get("TAKEDOWN_BUILD_PURE") == "1" or not EXTENSIONS:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("takedown: Cython is not installed; the pure-Python path will be used")
        return []
    exts = [Extension(name, [path], extra_compile_args=["-O3"]) for name, path in EXTENSIONS]
    return cythonize(exts, language_level=3, compiler_directives={
        "boundscheck": False, "wraparound": False, "cdivision": True, "embedsignature": True,
    }, quiet=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
