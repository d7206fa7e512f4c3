"""What the atheris harnesses of fuzz/ share (docs/fuzzing.md).

Each harness ``fuzz/fuzz_<target>.py`` defines ``TestOneInput(data)`` and
runs libFuzzer (through atheris) when executed as a script. A crash is any
exception other than the errors the target documents for bad input (and the
project's own :class:`takedown.errors.TakedownError`); a hang is an input
that takes longer than libFuzzer's ``-timeout``. ``fuzz/run.py`` runs them
(``make fuzz``); tests/test_fuzz.py replays the kept crashing inputs and runs
each harness briefly.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
EXAMPLES = REPO / "examples"

# The zone of the responder harness: every record shape the responder treats
# apart (apex, glue, wildcard, CNAME in and out of the zone, delegation,
# DNAME, MX, TXT, SRV, an RRset too large for 512 or 1232 bytes).
RESPONDER_ZONE = "\n".join([
    "$ORIGIN fuzz.test.", "$TTL 300",
    "@ IN SOA ns1 hostmaster 1 3600 600 86400 300", "@ IN NS ns1", "@ IN MX 10 mail",
    "ns1 IN A 192.0.2.10", "mail IN A 192.0.2.12", "www IN A 192.0.2.11", "www IN AAAA 2001:db8::11",
    "*.wild IN A 192.0.2.13", "alias IN CNAME www", "far IN CNAME www.example.net.",
    "sub IN NS ns.sub", "ns.sub IN A 192.0.2.14", "txt IN TXT \"hello\" \"world\"",
    "old IN DNAME new.fuzz.test.", "srv IN SRV 0 5 80 www",
] + [f"big IN A 198.51.100.{i}" for i in range(1, 120)]) + "\n"


def tests_on_path() -> None:
    """Make the test helpers (dns_helpers, the tests' fixtures) importable."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))


def scratch(prefix: str, with_examples: bool = False) -> Path:
    """A private directory for a harness's files (one per process, rewritten
    on every input): under ``$TAKEDOWN_FUZZ_SCRATCH`` (fuzz/run.py sets it
    to its output directory's ``scratch/``), else the system's temp dir."""
    parent = os.environ.get("TAKEDOWN_FUZZ_SCRATCH")
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=f"takedown-fuzz-{prefix}-", dir=parent or None))
    if with_examples:
        for f in EXAMPLES.iterdir():
            if f.is_file():
                shutil.copy(f, d / f.name)
    return d


def main(test_one_input) -> None:
    import atheris

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


def file_loader_input(path: Path, load):
    """A ``TestOneInput`` for a loader of files: the input becomes the file
    at ``path``, ``load(path)`` reads it; a TakedownError is a refusal, any
    other exception a crash."""
    from takedown.errors import TakedownError

    def test_one_input(data: bytes) -> None:
        path.write_bytes(data)
        try:
            load(path)
        except TakedownError:
            pass

    return test_one_input
