"""The package's compiled hot paths (issue 18, docs/performance.md), optional.

Everything else is in pyproject.toml. Each entry of :data:`EXTENSIONS` (a
name of src/takedown/hot_paths.txt) is a Cython module compiled when the
package is built (``pip install``, ``python -m build``); its pure-Python
twin stays in the package and is used when the extension is missing (no
compiler, no Cython, a failed build) or when ``TAKEDOWN_PURE=1``
(:mod:`takedown.accel`). A failed compilation is a
warning, never a failed install: a machine without a compiler gets the pure
path. ``TAKEDOWN_BUILD_PURE=1`` skips compiling altogether.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.bdist_wheel import bdist_wheel
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

    def initialize_options(self) -> None:
        super().initialize_options()
        self.built: list[str] = []  # the extensions that did compile (PureIfNothingBuilt reads it)

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
        else:
            self.built.append(ext.name)


class PureIfNothingBuilt(bdist_wheel):
    """bdist_wheel tagging the wheel ``py3-none-any`` when no extension
    compiled: setuptools decides the tag from the extensions listed, before
    they are built, and a wheel holding only Python would otherwise claim
    one interpreter and platform."""

    def get_tag(self) -> tuple[str, str, str]:
        if not self.root_is_pure and not self.get_finalized_command("build_ext").built:
            self.root_is_pure = True  # also the WHEEL file's Root-Is-Purelib, written after this
        return super().get_tag()


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


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt, "bdist_wheel": PureIfNothingBuilt})
