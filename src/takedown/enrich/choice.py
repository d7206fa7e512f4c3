"""Which enricher an operation uses: its own mmdb files when ``[enrich]`` names
them, the data shipped with the package for whatever they lack."""

from __future__ import annotations

from pathlib import Path


def make_enricher(country_mmdb: Path | None = None, asn_mmdb: Path | None = None):
    """A takedown.enrich.Enricher."""
    # lazy: store.privacy (imported by every sensor) needs it only for keyed privacy modes
    from takedown.enrich import Enricher

    shipped = Enricher.default()
    if country_mmdb is None and asn_mmdb is None:
        return shipped
    return Enricher.from_mmdb(country=country_mmdb, asn=asn_mmdb, fallback=shipped)


def for_operation(op):
    """The enricher of operation ``op``."""
    return make_enricher(op.enrich.country_mmdb, op.enrich.asn_mmdb)
