"""Run the differential cases against NSD and another server; summarise.

    .venv/bin/python tests/differential/report.py bind      [-v] [--group G] [--id SUBSTR]
    .venv/bin/python tests/differential/report.py takedown  [-v] [--group G] [--id SUBSTR]

``bind``: BIND 9 serving the same zones. Every case is compared as ``same``
(the blocklist plays no part, ANY included): this shows where two reference
authoritative servers legitimately differ. Not a test, for that reason.

``takedown``: takedown's sinkhole, with the expectations of the test
(``same``, ``sink``, ``any``, ``dropped``): the same verdicts as
``pytest tests/differential``, grouped, in one screen.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the repository root: "tests.differential" imports

from harness.peers import free_port, start_bind, start_nsd, start_process  # noqa: E402
from tests.differential import cases as C  # noqa: E402
from tests.differential.compare import DROP_TIMEOUT, compare_wires, exchange  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", choices=("bind", "takedown"))
    ap.add_argument("-v", "--verbose", action="store_true", help="print every differing case in full")
    ap.add_argument("--group", help="only cases of this group")
    ap.add_argument("--id", help="only cases whose id contains this")
    args = ap.parse_args()

    zones = C.ZONES
    with tempfile.TemporaryDirectory(prefix="differential-") as tmp:
        nsd = start_nsd(zones, port=free_port(), workdir=Path(tmp) / "nsd")
        try:
            if args.other == "bind":
                other = start_bind(zones, port=free_port(), workdir=Path(tmp) / "bind")
            else:
                from tests.differential.conftest import takedown_command, write_operation

                port = free_port()
                work = Path(tmp) / "takedown"
                op = write_operation(work, "127.0.0.1", port)
                argv = [takedown_command(), "serve", str(op), "--dns", f"127.0.0.1:{port}", "--workers", "1"]
                other = start_process("takedown", argv, port=port, workdir=work, probe_name="3322.org")
        except Exception:
            nsd.stop()
            raise
        try:
            return run(args, nsd, other)
        finally:
            nsd.stop()
            other.stop()


def run(args, nsd, other) -> int:
    from tests.differential import test_differential as T

    name = other.name
    by_group: dict[str, list[tuple[C.Case, list[str]]]] = defaultdict(list)
    kinds: Counter[str] = Counter()
    total = 0
    for case in C.all_cases():
        if args.group and case.group != args.group:
            continue
        if args.id and args.id not in case.id:
            continue
        total += 1
        timeout = DROP_TIMEOUT if case.expect == "dropped" else None
        wire = case.wire()
        a = exchange(wire, other.host, other.port, case.transport, timeout)
        if name == "bind" or case.expect in ("same", "dropped"):
            b = exchange(wire, nsd.host, nsd.port, case.transport, timeout)
            d = compare_wires(a, b, names=(name, "nsd")) if name == "bind" else T.check_same(case, a, b)
        elif case.expect == "sink":
            d = T.check_sink(case, a)
        else:
            b = exchange(wire, nsd.host, nsd.port, case.transport, timeout)
            d = T.check_any(case, a, b)
        if d:
            by_group[case.group].append((case, d))
            for line in d:
                kinds[line.split(":")[0].split("(")[0].strip()] += 1
    ndiff = sum(len(v) for v in by_group.values())
    print(f"{total} cases, {ndiff} differ between {name} and nsd (or the expectation)")
    print("by part:", ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    for group, items in sorted(by_group.items()):
        print(f"\n== {group}: {len(items)} differ")
        for case, d in items:
            if args.verbose:
                print(f"- {case.id}" + (f" ({case.note})" if case.note else ""))
                for line in d:
                    print("    " + line.replace("\n", "\n    "))
            else:
                extra = f" (+{len(d) - 1})" if len(d) > 1 else ""
                print(f"- {case.id}: {d[0].splitlines()[0][:220]}{extra}")
    return 1 if ndiff else 0


if __name__ == "__main__":
    sys.exit(main())
