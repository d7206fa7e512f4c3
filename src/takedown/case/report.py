"""The verification's output (``takedown case verify --format``): a table,
CSV or JSON, per name and per registry."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

from takedown.case.verify import NOT_YET, VERIFIED, WRONG, NameResult, by_registry

__all__ = ["FORMATS", "render", "all_verified"]

FORMATS = ("table", "csv", "json")
_STATES = (VERIFIED, NOT_YET, WRONG)


def _day(t: int | None) -> str:
    return datetime.fromtimestamp(t, timezone.utc).date().isoformat() if t is not None else ""


def all_verified(results: list[NameResult]) -> bool:
    return all(r.status == VERIFIED for r in results)


def _row(r: NameResult) -> dict:
    return {"name": r.name, "family": r.family, "registry": r.registry, "status": r.status,
            "reason": r.reason, "first_verified": _day(r.first_verified),
            **{f.check: f.status for f in r.findings}}


def _table(results: list[NameResult]) -> str:
    header = ["name", "family", "registry", "status", "since", "reason"]
    rows = [[r.name, r.family, r.registry, r.status, _day(r.first_verified) or "-", r.reason or "-"]
            for r in results]
    out = [_aligned(header, rows)]
    out.append("")
    out.append(_aligned(["registry", *_STATES, "names"],
                        [[g.registry, *(g.counts[s] for s in _STATES), sum(g.counts.values())]
                         for g in by_registry(results)]))
    n = {s: sum(r.status == s for r in results) for s in _STATES}
    out.append("")
    out.append(f"{len(results)} name(s): {n[VERIFIED]} verified, {n[NOT_YET]} not yet, {n[WRONG]} wrong")
    return "\n".join(out) + "\n"


def _aligned(header: list[str], rows: list[list[object]]) -> str:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def _csv(results: list[NameResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "family", "registry", "status", "dns", "rdap", "first_verified", "reason"])
    for r in results:
        row = _row(r)
        w.writerow([row["name"], row["family"], row["registry"], row["status"], row.get("dns", ""),
                    row.get("rdap", ""), row["first_verified"], row["reason"]])
    return buf.getvalue()


def _json(results: list[NameResult]) -> str:
    doc = {
        "names": [{**_row(r), "first_verified": _day(r.first_verified) or None,
                   "findings": [{"check": f.check, "status": f.status, "reason": f.reason} for f in r.findings]}
                  for r in results],
        "registries": [{"registry": g.registry, **{s.replace(" ", "_"): g.counts[s] for s in _STATES}}
                       for g in by_registry(results)],
        "verified": all_verified(results),
    }
    return json.dumps(doc, indent=2) + "\n"


def render(results: list[NameResult], fmt: str) -> str:
    """``results`` in ``fmt`` (one of FORMATS)."""
    return {"table": _table, "csv": _csv, "json": _json}[fmt](results)
