"""RFC 3161 time-stamps over the chain head, made and read with the OpenSSL
command line (``openssl ts``, OpenSSL 1.0+), so that what takedown does is
exactly what docs/evidence.md tells a court to do by hand.

The message imprint is the head entry's hash itself (SHA-256, 32 bytes):
``openssl ts -query -digest HASH -sha256``. The request asks for the TSA's
certificate in the token (``-cert``), so a verifier needs only the TSA's CA.
Transport: HTTP POST of the DER request, ``application/timestamp-query``,
answered with ``application/timestamp-reply`` (RFC 3161 section 3.4).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from takedown.errors import EvidenceError

_HEXLINE = re.compile(r"^\s*[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){0,15}[0-9a-f]{2})", re.I)


def _openssl(args: list[str], data: bytes | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("openssl")
    if exe is None:
        raise EvidenceError("time-stamps need the openssl program (Debian package openssl)")
    return subprocess.run([exe, *args], input=data, capture_output=True, timeout=60)


def request(digest: str) -> bytes:
    """The DER time-stamp request for a SHA-256 digest given in hex."""
    done = _openssl(["ts", "-query", "-digest", digest, "-sha256", "-cert"])
    if done.returncode != 0 or not done.stdout:
        raise EvidenceError(f"openssl ts -query failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def fetch(url: str, query: bytes, timeout: float = 30.0) -> bytes:
    """POST ``query`` to the TSA at ``url`` and return its reply (DER)."""
    req = urllib.request.Request(url, data=query, method="POST",
                                 headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:
        raise EvidenceError(f"time-stamp authority {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise EvidenceError(f"time-stamp authority {url}: {getattr(exc, 'reason', None) or exc}") from None


@dataclass(frozen=True)
class TokenInfo:
    granted: bool
    imprint: str  # hex, lower case; "" when the reply has no token
    time: str  # the TSA's genTime as OpenSSL prints it


def inspect(reply: Path) -> TokenInfo:
    """Status, message imprint and time of a time-stamp reply file."""
    done = _openssl(["ts", "-reply", "-in", str(reply), "-text"])
    if done.returncode != 0:
        why = next((ln for ln in done.stderr.decode(errors="replace").splitlines()
                    if ln.strip() and not ln.startswith("Using configuration")), "openssl ts -reply failed")
        raise EvidenceError(f"{reply.name}: not a time-stamp reply: {why}")
    text = done.stdout.decode(errors="replace")
    granted = bool(re.search(r"^Status: Granted", text, re.M))
    imprint, when = "", ""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Message data:"):
            hexes = []
            for follow in lines[i + 1:]:
                m = _HEXLINE.match(follow)
                if not m:
                    break
                hexes.append(m.group(1).replace("-", " ").replace(" ", ""))
            imprint = "".join(hexes).lower()
        elif line.startswith("Time stamp:"):
            when = line.split(":", 1)[1].strip()
    return TokenInfo(granted, imprint, when)


def verify(reply: Path, digest: str, ca_file: Path) -> str | None:
    """None when the reply is a valid time-stamp of ``digest`` by a TSA that
    chains to ``ca_file``; otherwise OpenSSL's reason."""
    done = _openssl(["ts", "-verify", "-digest", digest, "-in", str(reply), "-CAfile", str(ca_file)])
    out = (done.stdout + done.stderr).decode(errors="replace")
    if done.returncode == 0 and "Verification: OK" in out:
        return None
    reasons = [ln for ln in out.splitlines() if ln.strip() and "Verification" not in ln]
    return reasons[-1].strip() if reasons else "verification failed"
