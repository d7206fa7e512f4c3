"""``python -m takedown.enrich build-asn CSV_DIR OUT.npz``: the conversion
step scripts/bootstrap runs once after fetching the ASN data package."""

from __future__ import annotations

import sys
from pathlib import Path

from takedown.enrich.shipped import build_asn
from takedown.errors import EnrichError


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "build-asn":
        print("usage: python -m takedown.enrich build-asn CSV_DIR OUT.npz", file=sys.stderr)
        return 2
    try:
        build_asn(Path(argv[1]), Path(argv[2]))
    except EnrichError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
