"""Run the fuzz harnesses (``make fuzz [FUZZ_SECONDS=..] [FUZZ_TARGETS=..]``).

For each target: its seeds (fuzz/seeds.py) are written to
``fuzz/out/seeds/<target>``, libFuzzer runs on the growing corpus
``fuzz/out/corpus/<target>`` (kept between runs) plus the seeds, with the
target's dictionary, for ``--seconds`` or ``--runs`` inputs; crashing and
hanging inputs land in ``fuzz/out/crashes/<target>/``, the log in
``fuzz/out/logs/<target>.log``, the harnesses' files in ``fuzz/out/scratch/``. One line per target is printed and appended
to ``fuzz/out/runs.jsonl``: inputs run, seconds, coverage (libFuzzer's
``cov:`` and ``ft:``), corpus size, crash files. Exit status 1 when any
target crashed or hung.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

TARGETS = ("dns_query", "dns_responder", "http_request", "net_connection", "proxy", "tls_hello",
           "zonefile", "operation", "rules", "scenario")
NETWORK = frozenset(TARGETS[:6])  # network parsers; the rest read files
_STATS = re.compile(r"#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)?\s*cov: (\d+) ft: (\d+)(?: corp: (\d+))?")


def _dictionary(target: str, out: Path) -> Path | None:
    import seeds

    committed = HERE / "dicts" / f"{target}.dict"
    if committed.exists():
        return committed
    lines = seeds.dictionary(target)
    if lines is None:
        return None
    path = out / "dicts" / f"{target}.dict"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def run(target: str, out: Path, *, seconds: int | None, runs: int | None, timeout: int, seed: int | None) -> dict:
    """Fuzz one target; its summary (what runs.jsonl records)."""
    import seeds

    seed_dir, corpus, crashes, logs = (out / "seeds" / target, out / "corpus" / target,
                                       out / "crashes" / target, out / "logs")
    for d in (corpus, crashes, logs):
        d.mkdir(parents=True, exist_ok=True)
    os.environ["TAKEDOWN_FUZZ_SCRATCH"] = str(out / "scratch")  # for the seeds and the harness
    nseeds = seeds.write(target, seed_dir)
    before = set(crashes.iterdir())
    cmd = [sys.executable, str(HERE / f"fuzz_{target}.py"), str(corpus), str(seed_dir),
           f"-timeout={timeout}", "-rss_limit_mb=3072", "-print_final_stats=1", "-max_len=8192",
           f"-artifact_prefix={crashes}/"]
    if seconds is not None:
        cmd.append(f"-max_total_time={seconds}")
    if runs is not None:
        cmd.append(f"-runs={runs}")
    if seed is not None:
        cmd.append(f"-seed={seed}")
    d = _dictionary(target, out)
    if d is not None:
        cmd.append(f"-dict={d}")
    log = logs / f"{target}.log"
    t0 = time.time()
    with open(log, "w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=HERE.parent)
    elapsed = time.time() - t0
    text = log.read_text(errors="replace")
    stats = _STATS.findall(text)
    executed = re.findall(r"stat::number_of_executed_units: (\d+)", text)
    rng = re.search(r"INFO: Seed: (\d+)", text)
    last = stats[-1] if stats else ("0", "0", "0", "0")
    found = sorted(str(p) for p in set(crashes.iterdir()) - before)
    return {
        "target": target, "kind": "network" if target in NETWORK else "file",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)), "seconds": round(elapsed, 1),
        "inputs": int(executed[-1]) if executed else int(last[0]), "cov": int(last[1]), "ft": int(last[2]),
        "corpus": len(list(corpus.iterdir())), "seeds": nseeds, "exit": rc, "crashes": found,
        "libfuzzer_seed": int(rng.group(1)) if rng else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", default=list(TARGETS), help=f"default: all ({', '.join(TARGETS)})")
    ap.add_argument("--seconds", type=int, help="seconds per target (libFuzzer -max_total_time)")
    ap.add_argument("--runs", type=int, help="inputs per target (libFuzzer -runs)")
    ap.add_argument("--timeout", type=int, default=10, help="seconds one input may take before it is a hang")
    ap.add_argument("--seed", type=int, help="libFuzzer's random seed (default: its own)")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    args = ap.parse_args(argv)
    if args.seconds is None and args.runs is None:
        args.seconds = 60
    bad = [t for t in args.targets if t not in TARGETS]
    if bad:
        ap.error(f"unknown target(s) {', '.join(bad)}; known: {', '.join(TARGETS)}")
    failed = False
    for t in args.targets:
        res = run(t, args.out, seconds=args.seconds, runs=args.runs, timeout=args.timeout, seed=args.seed)
        with open(args.out / "runs.jsonl", "a") as f:
            f.write(json.dumps(res) + "\n")
        print(f"{t}: {res['inputs']} inputs in {res['seconds']} s, cov {res['cov']} ft {res['ft']}, "
              f"corpus {res['corpus']}, exit {res['exit']}" + (f", CRASH {res['crashes']}" if res["crashes"] else ""),
              flush=True)
        failed |= res["exit"] != 0 or bool(res["crashes"])
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
