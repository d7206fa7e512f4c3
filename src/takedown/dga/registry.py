"""Finding DGA families: the modules shipped here, package entry points, plugin files.

Shipped families are the modules of :mod:`takedown.dga.families`, each
defining ``FAMILY``. A package may add its own through the entry-point group
``takedown.dga`` (each entry point a ``Family`` instance or a module with
``FAMILY``); an operator may name a Python file in the operation file
(:func:`load_plugin`). Names and aliases are case-insensitive and unique.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from importlib.metadata import entry_points
from pathlib import Path

from takedown.dga.base import DgaError, Family

_FAMILIES: dict[str, Family] = {}
_BY_NAME: dict[str, Family] = {}
_ORIGIN: dict[str, str] = {}  # family name -> where it was registered from
_loaded = False


def register(family: Family, origin: str = "") -> Family:
    if not isinstance(family, Family):
        raise DgaError(f"{origin or family!r}: FAMILY is not a takedown.dga.Family")
    old = _FAMILIES.get(family.name.lower())
    if old is not None and origin and _ORIGIN.get(old.name.lower()) == origin:
        # the same plugin file loaded again (an edited plugin): the new version replaces the old
        for key in (old.name, *old.aliases):
            _BY_NAME.pop(key.lower(), None)
    for key in (family.name, *family.aliases):
        k = key.lower()
        other = _BY_NAME.get(k)
        if other is not None and other is not family:
            raise DgaError(f"{origin or family.name}: name {key!r} is already used by family {other.name!r}")
    _FAMILIES[family.name.lower()] = family
    _ORIGIN[family.name.lower()] = origin
    for key in (family.name, *family.aliases):
        _BY_NAME[key.lower()] = family
    return family


def _load_shipped() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    pkg = importlib.import_module("takedown.dga.families")

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        fam = getattr(mod, "FAMILY", None)
        if fam is not None:
            register(fam, f"takedown.dga.families.{info.name}")
    for ep in entry_points(group="takedown.dga"):
        obj = ep.load()
        register(getattr(obj, "FAMILY", obj), f"entry point {ep.name}")


def load_plugin(path: Path) -> Family:
    """Register the ``FAMILY`` defined in the Python file ``path``."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"takedown_dga_plugin_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise DgaError(f"{path}: not a Python file")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except FileNotFoundError:
        raise DgaError(f"{path}: no such file") from None
    except Exception as exc:
        raise DgaError(f"{path}: {type(exc).__name__}: {exc}") from None
    fam = getattr(mod, "FAMILY", None)
    if fam is None:
        raise DgaError(f"{path}: defines no FAMILY")
    _load_shipped()
    return register(fam, str(path.resolve()))


def families() -> list[Family]:
    """Every registered family, by name."""
    _load_shipped()
    return sorted(_FAMILIES.values(), key=lambda f: f.name)


def get(name: str) -> Family:
    """The family called ``name`` (or one of its aliases)."""
    _load_shipped()
    fam = _BY_NAME.get(name.lower())
    if fam is None:
        raise DgaError(f"unknown DGA family {name!r} (see `takedown dga list`)")
    return fam
