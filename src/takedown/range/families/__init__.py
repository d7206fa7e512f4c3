"""What each emulated family does on the wire, one small module per family,
found through :func:`get` (the shape of :mod:`takedown.dga.registry`).

A :class:`~takedown.range.families.base.Behaviour` says how a bot of the
family finds its server (a seized name, a name in a taken-over zone, a DGA
name, or a hard-coded address), how it checks in (HTTP, HTTP inside TLS, or
a raw TCP greeting) and which fingerprint rule the operation attributes
those check-ins with, so that the range knows the family and rule the
report must show for each one.
"""

from __future__ import annotations

import importlib
import pkgutil

from takedown.errors import RangeError
from takedown.range.families.base import Behaviour

_REGISTRY: dict[str, Behaviour] = {}


def _load() -> None:
    if _REGISTRY:
        return
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        b: Behaviour = mod.BEHAVIOUR
        _REGISTRY[b.name] = b


def get(name: str) -> Behaviour:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise RangeError(f"no range behaviour for family {name!r} (known: {known})") from None


def names() -> list[str]:
    _load()
    return sorted(_REGISTRY)
