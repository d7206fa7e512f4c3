"""The evidence chain (docs/evidence.md): seal, then verify catches a changed,
removed or re-ordered file or entry, and a bad time-stamp; the time-stamps
come from a real RFC 3161 authority, ``openssl ts -reply`` behind an HTTP
server on loopback, with a CA made here."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from takedown.cli import app, main
from takedown.errors import EvidenceError
from takedown.evidence import chain
from takedown.evidence.seal import seal, verify
from takedown.operation import load_operation

from dns_helpers import make_operation

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl program")

@pytest.fixture
def op_dir(tmp_path: Path) -> Path:
    d = tmp_path / "case"
    make_operation(d)
    data = d / "data"
    closed = data / "events" / "kind=http" / "date=2026-01-01"
    closed.mkdir(parents=True)
    (closed / "http-s1-0.parquet").write_bytes(b"compacted day")
    (closed / ".compacted.json").write_text(json.dumps({"token": "t", "files": ["http-s1-0.parquet"]}))
    uncompacted = data / "events" / "kind=http" / "date=2026-01-02"
    uncompacted.mkdir(parents=True)
    (uncompacted / "seg-1.parquet").write_bytes(b"segment awaiting compaction")
    today = data / "events" / "kind=dns" / f"date={dt.datetime.now(dt.timezone.utc).date().isoformat()}"
    today.mkdir(parents=True)
    (today / "seg-2.parquet").write_bytes(b"still being written")
    (today / ".seg-3.parquet.tmp").write_bytes(b"half")
    (data / "report").mkdir()
    (data / "report" / "index.html").write_text("<h1>report</h1>")
    (data / "tracker").mkdir()
    (data / "tracker" / "rpz.zone").write_text("$ORIGIN rpz.\n")
    (data / "privacy.key").write_bytes(b"k" * 32)
    (data / "tracker.sqlite").write_bytes(b"changes in place")
    return d


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_seal_takes_closed_files_only_and_appends(op_dir: Path):
    op = load_operation(op_dir / "operation.toml")
    done = seal(op)
    paths = [e.path for e in done.added]
    assert paths == ["operation.toml", "waledac-domains.txt", "3322.org.zone", "3322-blocklist.txt",
                     "data/report/index.html", "data/tracker/rpz.zone",
                     "data/events/kind=http/date=2026-01-01/http-s1-0.parquet"]
    assert done.open_days == 2  # today's, and 2026-01-02 (not compacted yet)
    before = done.manifest.read_bytes()
    # a new report, and the day compacted: only they are appended, the old lines stay byte for byte
    (op_dir / "data" / "report" / "week.csv").write_text("a,b\n")
    day2 = op_dir / "data" / "events" / "kind=http" / "date=2026-01-02"
    (day2 / ".compacted.json").write_text(json.dumps({"files": ["seg-1.parquet"]}))
    again = seal(op)
    assert [e.path for e in again.added] == ["data/report/week.csv", "data/events/kind=http/date=2026-01-02/seg-1.parquet"]
    assert again.added[0].prev == done.added[-1].hash and again.total == 9
    assert done.manifest.read_bytes().startswith(before)
    assert seal(op).added == []
    res = verify(op)
    assert res.ok and res.files_ok == 9


def test_named_secrets_inside_the_storage_are_not_sealed(op_dir: Path):
    """The sinkhole's own TLS key and certificate are files the operation names
    (takedown.runtime.watched) but regenerated and secret: left out like the privacy key."""
    make_operation(op_dir, extra_toml='[tls]\nlisten = ["127.0.0.1:0"]\nhandshake = true\n')
    (op_dir / "data" / "tls").mkdir()
    for name in ("sinkhole-cert.pem", "sinkhole-key.pem"):
        (op_dir / "data" / "tls" / name).write_text("pem")
    op = load_operation(op_dir / "operation.toml")
    paths = [e.path for e in seal(op).added]
    assert "waledac-domains.txt" in paths and not any("tls/" in p or "privacy" in p or "sqlite" in p for p in paths), paths


def test_one_sealer_at_a_time(op_dir: Path):
    from takedown.evidence.seal import _locked, evidence_dir
    op = load_operation(op_dir / "operation.toml")
    done = []
    with _locked(evidence_dir(op)):
        t = threading.Thread(target=lambda: done.append(seal(op)))
        t.start()
        t.join(0.5)
        assert t.is_alive() and not done  # waits for the lock
    t.join(10)
    assert done and done[0].total == 7 and verify(op).ok


def test_entry_hash_is_openssl_dgst_of_its_text_line(op_dir: Path):
    op = load_operation(op_dir / "operation.toml")
    e = seal(op).added[0]
    out = subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=e.text().encode(), capture_output=True, check=True)
    assert out.stdout.split()[0].decode() == e.hash


def _lines(manifest: Path) -> list[str]:
    return manifest.read_text().splitlines(keepends=True)


def test_tampered_removed_file(op_dir: Path):
    op = load_operation(op_dir / "operation.toml")
    seal(op)
    (op_dir / "data" / "report" / "index.html").write_text("<h1>report, edited</h1>")
    (op_dir / "data" / "tracker" / "rpz.zone").unlink()
    r = _run("evidence", "verify", str(op_dir / "operation.toml"))
    assert r.exit_code == 3, r.output
    assert "changed: data/report/index.html (entry 5" in r.output
    assert "removed: data/tracker/rpz.zone (entry 6)" in r.output
    assert "OK" not in r.output


def test_reordered_and_edited_entries(op_dir: Path):
    op = load_operation(op_dir / "operation.toml")
    manifest = seal(op).manifest
    lines = _lines(manifest)
    manifest.write_text(lines[0] + lines[2] + lines[1] + "".join(lines[3:]))
    faults = verify(op).faults
    assert any("entry 2 (3322.org.zone): sequence number 3" in f for f in faults), faults
    assert any("entry 3 (waledac-domains.txt)" in f and "re-ordered" in f for f in faults), faults
    # an entry edited to match a changed file: its own hash no longer matches
    manifest.write_text("".join(lines))
    (op_dir / "waledac-domains.txt").write_text("other.example\n")
    entry = json.loads(lines[1])
    size, digest = chain.file_digest(op_dir / "waledac-domains.txt")
    entry.update(size=size, sha256=digest)
    manifest.write_text(lines[0] + json.dumps(entry) + "\n" + "".join(lines[2:]))
    faults = verify(op).faults
    assert faults == ["entry 2 (waledac-domains.txt): its hash does not match its content (the entry was edited)"]
    # ... and re-hashed too: the next entry no longer follows it
    fixed = chain.make_entry(entry["seq"], entry["path"], size, digest, entry["sealed_at"], entry["prev"])
    manifest.write_text(lines[0] + json.dumps(fixed.__dict__) + "\n" + "".join(lines[2:]))
    faults = verify(op).faults
    assert faults == ["entry 3 (3322.org.zone): does not follow the entry before it "
                      "(entries removed, inserted or re-ordered)"]
    # an entry removed
    manifest.write_text(lines[0] + "".join(lines[2:]))
    assert any("sequence number 3, expected 2" in f for f in verify(op).faults)
    with pytest.raises(EvidenceError, match="the chain is broken"):
        seal(op)


def test_malformed_manifest_is_one_line_error(op_dir: Path, monkeypatch, capsys):
    op = load_operation(op_dir / "operation.toml")
    manifest = seal(op).manifest
    with open(manifest, "a") as f:
        f.write('{"seq": 9}\n')
    monkeypatch.setattr("sys.argv", ["takedown", "evidence", "verify", str(op_dir / "operation.toml")])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    assert capsys.readouterr().err == f"Error: {manifest}:8: an entry has exactly the fields " \
                                      "seq, path, size, sha256, sealed_at, prev, hash\n"


# ------------------------------------------------------------------ a TSA on loopback


def _cert(subject: str, key, issuer_cert, issuer_key, *, ca: bool):
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer_cert.subject if issuer_cert else name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return b.sign(issuer_key or key, hashes.SHA256())


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _make_tsa(d: Path, name: str) -> Path:
    """A CA and a TSA certified by it, and an openssl ts config; returns the CA file."""
    d.mkdir()
    ca_key, tsa_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert(f"{name} CA", ca_key, None, None, ca=True)
    tsa = _cert(f"{name} TSA", tsa_key, ca, ca_key, ca=False)
    (d / "ca.pem").write_bytes(_pem(ca))
    (d / "tsa.pem").write_bytes(_pem(tsa))
    (d / "tsa.key").write_bytes(tsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    (d / "serial").write_text("01\n")
    (d / "tsa.cnf").write_text(f"""\
[tsa]
default_tsa = t
[t]
serial = {d}/serial
crypto_device = builtin
signer_cert = {d}/tsa.pem
certs = {d}/ca.pem
signer_key = {d}/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")
    return d / "ca.pem"


@pytest.fixture
def tsa(tmp_path: Path):
    """(URL, CA file, requests received) of an RFC 3161 TSA on 127.0.0.1."""
    d = tmp_path / "tsa"
    ca = _make_tsa(d, "test")
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            query = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers["Content-Type"])
            q = d / "q.tsq"
            q.write_bytes(query)
            out = subprocess.run(["openssl", "ts", "-reply", "-config", str(d / "tsa.cnf"), "-queryfile", str(q)],
                                 capture_output=True)
            self.send_response(200 if out.returncode == 0 else 500)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(out.stdout)))
            self.end_headers()
            self.wfile.write(out.stdout)

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa", ca, seen
    server.shutdown()
    server.server_close()


def test_timestamp_made_and_verified(op_dir: Path, tsa):
    url, ca, seen = tsa
    op_file = str(op_dir / "operation.toml")
    r = _run("evidence", "seal", op_file, "--tsa", url)
    assert r.exit_code == 0, r.output
    assert "time-stamp" in r.output and seen == ["application/timestamp-query"]
    token = op_dir / "data" / "evidence" / "timestamps" / "00000007.tsr"
    assert token.is_file()
    (op_dir / "data" / "report" / "late.csv").write_text("x\n")
    assert _run("evidence", "seal", op_file, "--tsa", url).exit_code == 0
    assert (op_dir / "data" / "evidence" / "timestamps" / "00000008.tsr").is_file()
    r = _run("evidence", "verify", op_file, "--tsa-ca", str(ca))
    assert r.exit_code == 0, r.output
    assert "2 time-stamp(s) good" in r.output and r.output.rstrip().endswith("evidence verify: OK")
    # OpenSSL alone, as docs/evidence.md tells a court: the head's hash is the imprint
    head = chain.read_manifest(op_dir / "data" / "evidence" / "manifest.jsonl")[6].hash
    out = subprocess.run(["openssl", "ts", "-verify", "-digest", head, "-in", str(token), "-CAfile", str(ca)],
                         capture_output=True, text=True)
    assert "Verification: OK" in out.stdout, out.stdout + out.stderr


def test_bad_tokens(op_dir: Path, tsa, tmp_path: Path):
    url, ca, _ = tsa
    op = load_operation(op_dir / "operation.toml")
    seal(op, tsa=url)
    (op_dir / "data" / "report" / "late.csv").write_text("x\n")
    seal(op, tsa=url)
    tokens = op_dir / "data" / "evidence" / "timestamps"
    # a token of another TSA, not chained to the CA the court trusts
    other_ca = _make_tsa(tmp_path / "other", "other")
    assert verify(op, tsa_ca=ca).ok
    faults = verify(op, tsa_ca=other_ca).faults
    assert len(faults) == 2 and all("signature not valid under" in f for f in faults), faults
    # a token moved to claim another entry: its imprint is not that entry's hash
    (tokens / "00000007.tsr").rename(tokens / "00000006.tsr")
    assert verify(op, tsa_ca=ca).faults == [
        "timestamp 00000006.tsr: its imprint is not the hash of entry 6 (data/tracker/rpz.zone)"]
    # a corrupted token
    data = bytearray((tokens / "00000008.tsr").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tokens / "00000008.tsr").write_bytes(bytes(data))
    faults = verify(op, tsa_ca=ca).faults
    assert any(f.startswith("timestamp 00000008.tsr") for f in faults), faults
    (tokens / "00000008.tsr").write_bytes(b"not DER")
    assert [f for f in verify(op, tsa_ca=ca).faults if "00000008" in f][0].startswith(
        "timestamp 00000008.tsr: not a time-stamp reply: ")
    # a token for an entry the manifest no longer holds
    (tokens / "00000006.tsr").rename(tokens / "00000042.tsr")
    assert "timestamp 00000042.tsr: covers entry 42, which the manifest does not hold" in verify(op).faults


def test_tsa_unreachable_is_one_line_error(op_dir: Path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = _run("evidence", "seal", str(op_dir / "operation.toml"), "--tsa", f"http://127.0.0.1:{port}/")
    assert r.exit_code == 1
    assert f"time-stamp authority http://127.0.0.1:{port}/" in str(r.exception)
