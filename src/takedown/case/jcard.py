"""The properties of an RDAP entity's jCard (``vcardArray``).

RDAP carries an entity's contact as jCard (RFC 7095): ``["vcard", [[name,
params, type, value, ...], ...]]`` (RFC 9083 section 5.1); a property may
hold more than one value (RFC 7095 section 3.3.1.1) and may repeat.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["values"]


def values(entity: Mapping, name: str) -> list[str]:
    """Every text value of the property ``name`` (e.g. ``fn``, ``email``) of
    ``entity``'s jCard, in order; [] when it has none or no jCard."""
    vcard = entity.get("vcardArray")
    if not (isinstance(vcard, list) and len(vcard) == 2 and isinstance(vcard[1], list)):
        return []
    return [str(v) for prop in vcard[1] if isinstance(prop, list) and len(prop) >= 4 and prop[0] == name
            for v in prop[3:] if isinstance(v, (str, int))]
