"""bench/RESULTS.md: the generated sections between ``<!-- bench:NAME:begin/end -->``
markers, rewritten in place by each benchmark (text outside them is kept)."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(name: str, text: str, path: Path = RESULTS) -> None:
    """Replace section ``name`` of ``path`` with ``text`` (appended if it is not there yet)."""
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    body = path.read_text() if path.exists() else ""
    block = f"{begin}\n{text.rstrip()}\n\n{end}"
    if begin in body and end in body and body.index(begin) < body.index(end):
        body = body[: body.index(begin)] + block + body[body.index(end) + len(end):]
    else:
        body = body.rstrip() + "\n\n" + block + "\n"
    path.write_text(body)


def machine() -> dict:
    """The machine and the data libraries, for a section's header line."""
    import os
    import platform
    from datetime import datetime, timezone

    import duckdb
    import pyarrow as pa

    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem, 1), "kernel": platform.release(),
            "python": platform.python_version(), "duckdb": duckdb.__version__, "pyarrow": pa.__version__,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def dataset_options(ap, what: str) -> None:
    """The options of a benchmark over a generated dataset: --reps --seed --dir --keep --no-write."""
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2011)
    ap.add_argument("--dir", type=Path, default=None, help=f"where to write {what} (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help=f"keep {what}")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")


def scratch(a, name: str) -> Path:
    """The dataset directory: --dir, or a new one under $TMPDIR."""
    import os

    storage = a.dir or Path(os.environ.get("TMPDIR", "/tmp")) / f"takedown-{name}-{os.getpid()}"
    storage.mkdir(parents=True, exist_ok=True)
    return storage


def save_run(name: str, result: dict, render, script: str, argv: list[str] | None, write: bool) -> None:
    """Keep ``result`` as bench/out/NAME-<time>.json and, with ``write``, put
    ``render(result, command)`` in section ``name`` of RESULTS.md."""
    import json
    import sys
    import time

    out_dir = RESULTS.parent / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=1))
    if write:
        command = " ".join([f".venv/bin/python bench/{script}", *(sys.argv[1:] if argv is None else argv)])
        write_section(name, render(result, command))
