"""The shipped P2P family models: one module each under :mod:`takedown.p2p.families`,
each defining ``MODEL``. Names and aliases are case-insensitive."""

from __future__ import annotations

import importlib
import pkgutil

from takedown.p2p.model import FamilyModel, SimError

_BY_NAME: dict[str, FamilyModel] = {}
_MODELS: list[FamilyModel] = []


def _load() -> None:
    if _MODELS:
        return
    pkg = importlib.import_module("takedown.p2p.families")
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        model = getattr(importlib.import_module(f"{pkg.__name__}.{info.name}"), "MODEL", None)
        if model is None:
            continue
        for key in (model.name, *model.aliases):
            if key.lower() in _BY_NAME:
                raise SimError(f"family name {key!r} is used twice")
            _BY_NAME[key.lower()] = model
        _MODELS.append(model)


def models() -> list[FamilyModel]:
    _load()
    return list(_MODELS)


def get(name: str) -> FamilyModel:
    _load()
    model = _BY_NAME.get(str(name).lower())
    if model is None:
        raise SimError(f"unknown P2P family {name!r} (known: {', '.join(m.name for m in _MODELS)})")
    return model
