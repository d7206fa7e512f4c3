"""Domain generation algorithms: one module per family, found through a registry.

>>> from datetime import date
>>> from takedown.dga import get
>>> get("necurs").generate(date(2015, 8, 30))[0]
'nccojqvabqvkiwhj.mx'

``takedown.dga.families`` is the package of shipped family modules; the list
of registered families is :func:`all_families` (``registry.families``).
"""

from takedown.dga.base import DgaError, Family, Known, Param
from takedown.dga.registry import families as all_families
from takedown.dga.registry import get, load_plugin, register

__all__ = ["DgaError", "Family", "Known", "Param", "all_families", "get", "load_plugin", "register"]
