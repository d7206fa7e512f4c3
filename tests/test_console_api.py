"""The console's API (takedown.console.pages.api, takedown.console.apikeys):
keys, signatures, the timestamp window, replays, partner isolation, the
OpenAPI description, the CLI, and the example client and curl against a
console on loopback."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from test_report import make_events, write_dataset

from takedown.analytics import shadowserver as ss
from takedown.console import apikeys
from takedown.console.pages import api
from takedown.tracker.indicator import Indicator

ROOT = Path(__file__).resolve().parents[1]
TAKEDOWN = [sys.executable, "-c", "from takedown.cli import main; main()"]  # this tree's code, not an install's
CLIENT = ROOT / "docs" / "examples" / "console_client.py"
A_NET, B_NET = "198.51.100.0/24", "203.0.113.0/24"
A_IP, B_IP = "198.51.100.1", "203.0.113.200"  # both have check-ins in make_events
PERIOD = {"date_from": "2024-12-16", "date_to": "2025-01-12"}


@dataclass
class Keyed:
    console: object
    keys: dict  # partner -> (key_id, secret)
    checkins: list
    dns: list

    def client(self):
        return self.console.anonymous()

    def call(self, method: str, partner: str = "CERT-A", *, ts: int | None = None, client=None, **params):
        key_id, secret = self.keys[partner]
        body = json.dumps({"apikey": key_id, "timestamp": int(time.time()) if ts is None else ts,
                           **params}).encode()
        return (client or self.client()).post(f"/api/{method}", content=body,
                                             headers={"HMAC2": apikeys.signature(secret, body)})


@pytest.fixture
def keyed(console):
    s = console.store
    s.add_claim(console.partners["CERT-A"], "cidr", A_NET, by="test", status="approved")
    s.add_claim(console.partners["CERT-A"], "domain", "a-c2.example", by="test", status="approved")
    s.add_claim(console.partners["ISP-B"], "cidr", B_NET, by="test", status="approved")
    s.add_claim(console.partners["ISP-B"], "domain", "b-c2.example", by="test", status="approved")
    checkins, dns = make_events()
    write_dataset(console.ctx.operation.storage, checkins, dns)
    console.ctx.tracker.add([
        Indicator("198.51.100.7", "ip", "rustock", status="online"),
        Indicator("http://198.51.100.8/gate.php", "url", "waledac", status="sinkholed"),
        Indicator("x.a-c2.example", "domain", "rustock", status="seized"),
        Indicator("203.0.113.9", "ip", "rustock", status="online"),
        Indicator("http://www.b-c2.example/gate.php", "url", "rustock"),
        Indicator("elsewhere.example", "domain", "rustock"),
    ], by="test")
    keys = {}
    for p in ("CERT-A", "ISP-B"):
        k, secret = apikeys.create(s, console.ctx.secret, console.partners[p], f"{p} script", by="test")
        keys[p] = (k.key_id, secret)
    return Keyed(console, keys, checkins, dns)


# --- keys ---------------------------------------------------------------------

def test_key_secret_is_derived_shown_once_and_never_stored(keyed):
    c = keyed.console
    key_id, secret = keyed.keys["CERT-A"]
    assert re.fullmatch(r"[0-9a-f]{16}", key_id) and re.fullmatch(r"[0-9a-f]{64}", secret)
    assert secret == c.ctx.secret.derive("api:" + key_id).hex()
    db = Path(c.store.engine.url.database)
    raw = db.read_bytes() + b"".join(p.read_bytes() for p in db.parent.glob(db.name + "-*"))
    assert key_id.encode() in raw  # the file is the right one
    assert secret.encode() not in raw and secret.upper().encode() not in raw
    listed = apikeys.keys(c.store, c.partners["CERT-A"])
    assert [k.key_id for k in listed] == [key_id] and listed[0].revoked is None
    actions = [e.action for e in c.store.audit_log(action="apikey-create")]
    assert actions == ["apikey-create", "apikey-create"]


def test_signed_request_answers(keyed):
    r = keyed.call("key/info")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["partner"] == "CERT-A" and got["key_id"] == keyed.keys["CERT-A"][0]
    assert {"kind": "cidr", "value": A_NET} in got["claims"]
    assert all(c["value"] not in (B_NET, "b-c2.example") for c in got["claims"])
    assert apikeys.keys(keyed.console.store, keyed.console.partners["CERT-A"])[0].last_used is not None


def _raw(keyed, body: bytes, sig: str | None, method="key/info"):
    headers = {"HMAC2": sig} if sig is not None else {}
    return keyed.client().post(f"/api/{method}", content=body, headers=headers)


def test_bad_missing_and_tampered_signatures_are_401(keyed):
    key_id, secret = keyed.keys["CERT-A"]
    body = json.dumps({"apikey": key_id, "timestamp": int(time.time())}).encode()
    good = apikeys.signature(secret, body)
    assert _raw(keyed, body, None).status_code == 401
    assert _raw(keyed, body, "").status_code == 401
    assert _raw(keyed, body, "0" * 64).status_code == 401
    assert _raw(keyed, body, apikeys.signature(keyed.keys["ISP-B"][1], body)).status_code == 401  # B's secret
    tampered = body.replace(b'"timestamp"', b'"timestamp" ')
    assert tampered != body
    r = _raw(keyed, tampered, good)
    assert r.status_code == 401 and "signature" in r.json()["error"]
    unknown = json.dumps({"apikey": "00" * 8, "timestamp": int(time.time())}).encode()
    assert _raw(keyed, unknown, apikeys.signature(secret, unknown)).status_code == 401
    assert _raw(keyed, body, good.upper()).status_code == 200  # hex in either case


def test_bad_json_400_unknown_method_404_bad_parameter_400(keyed):
    r = _raw(keyed, b"{not json", "0" * 64)
    assert r.status_code == 400 and "\n" not in r.json()["error"]
    assert _raw(keyed, b"[1, 2]", "0" * 64).status_code == 400
    assert _raw(keyed, b" " * (api.MAX_BODY + 1), "0" * 64).status_code == 413
    assert keyed.call("reports/nothing").status_code == 404
    r = keyed.call("ips/get", ip="not-an-address")
    assert r.status_code == 400 and "ip" in r.json()["error"]
    assert keyed.call("ips/query", colour="red").status_code == 400
    assert keyed.call("reports/download", day="2024-12-16").status_code == 400  # type missing
    assert keyed.call("ips/query", size=5000).status_code == 400
    assert keyed.call("ips/query", date_from="2025-01-12", date_to="2024-12-16").status_code == 400


def test_timestamp_window(keyed):
    window = keyed.console.ctx.settings.api_window
    now = int(time.time())
    assert keyed.call("key/info", ts=now - window - 5).status_code == 401
    assert keyed.call("key/info", ts=now + window + 5).status_code == 401
    assert keyed.call("key/info", ts=now - window + 5).status_code == 200
    r = keyed.call("key/info", ts="yesterday")
    assert r.status_code == 401 and "timestamp" in r.json()["error"]


def test_replayed_signature_is_refused_and_expired_ones_purged(keyed):
    key_id, secret = keyed.keys["CERT-A"]
    body = json.dumps({"apikey": key_id, "timestamp": int(time.time())}).encode()
    sig = apikeys.signature(secret, body)
    assert _raw(keyed, body, sig).status_code == 200
    r = _raw(keyed, body, sig)
    assert r.status_code == 401 and "replay" in r.json()["error"]
    again = json.dumps({"apikey": key_id, "timestamp": json.loads(body)["timestamp"], "nonce": "n1"}).encode()
    assert _raw(keyed, again, apikeys.signature(secret, again)).status_code == 200  # the same second, a nonce
    assert _raw(keyed, again, apikeys.signature(secret, again)).status_code == 401
    assert keyed.call("key/info", nonce=["x"]).status_code == 400
    assert _raw(keyed, body, sig.upper()).status_code == 401  # the same signature in other letters
    from takedown.console.schema import api_nonces

    old = json.dumps({"apikey": key_id, "timestamp": int(time.time()) - 200}).encode()
    assert _raw(keyed, old, apikeys.signature(secret, old)).status_code == 200
    assert keyed.console.store.count(api_nonces) == 3
    keyed.console.ctx.now = lambda: time.time() + 350  # every signature so far has left the window
    fresh = json.dumps({"apikey": key_id, "timestamp": int(time.time()) + 350}).encode()
    assert _raw(keyed, fresh, apikeys.signature(secret, fresh)).status_code == 200
    assert keyed.console.store.count(api_nonces) == 1  # the expired ones were dropped


def test_revoked_key_and_replaced_console_key_are_refused(keyed):
    c = keyed.console
    key_id, _ = keyed.keys["CERT-A"]
    assert keyed.call("key/info").status_code == 200
    apikeys.revoke(c.store, key_id, by="test")
    assert keyed.call("key/info").status_code == 401
    assert [e.target for e in c.store.audit_log(action="apikey-revoke")] == [key_id]
    from takedown.console.secret import Secret

    assert keyed.call("key/info", "ISP-B").status_code == 200
    c.ctx.secret = Secret(b"\x01" * 32)  # a new console key
    assert keyed.call("key/info", "ISP-B").status_code == 401


# --- methods and isolation -------------------------------------------------------

def _truth(checkins, net_prefix):
    return {e["ip"] for e in checkins if e["ip"].startswith(net_prefix)}


def test_ips_query_sees_own_addresses_only(keyed):
    r = keyed.call("ips/query", **PERIOD, size=1000)
    assert r.status_code == 200, r.text
    got = r.json()
    ips = {row["ip"] for row in got["ips"]}
    assert ips == _truth(keyed.checkins, "198.51.100.") and got["total"] == len(ips)
    page = keyed.call("ips/query", **PERIOD, size=7, page=2).json()
    assert len(page["ips"]) == 7 and page["total"] == got["total"]
    assert [x["ip"] for x in page["ips"]] == [x["ip"] for x in got["ips"]][7:14]
    b = {row["ip"] for row in keyed.call("ips/query", "ISP-B", **PERIOD, size=1000).json()["ips"]}
    assert b == _truth(keyed.checkins, "203.0.113.") and not b & ips


def test_ips_get_other_partners_address_is_404(keyed):
    r = keyed.call("ips/get", ip=A_IP)
    assert r.status_code == 200, r.text
    got = r.json()
    seen = sum(e["ip"] == A_IP for e in keyed.checkins + keyed.dns)
    assert got["ip"] == A_IP and got["total"] == seen and len(got["events"]) == min(seen, 100)
    assert [e["time"] for e in got["events"]] == sorted((e["time"] for e in got["events"]), reverse=True)
    assert {e["src_ip"] for e in got["events"]} == {A_IP}
    assert keyed.call("ips/get", ip=A_IP, size=1, page=2).json()["events"] == got["events"][1:2]
    r = keyed.call("ips/get", ip=B_IP)
    assert r.status_code == 404 and B_IP not in r.text
    assert keyed.call("ips/get", "ISP-B", ip=B_IP).status_code == 200
    assert keyed.call("ips/get", ip="198.51.100.254").status_code == 404  # in scope, never seen


def test_tracker_query_in_scope_only(keyed):
    a = keyed.call("tracker/query").json()
    assert {e["value"] for e in a["entries"]} == {"198.51.100.7", "http://198.51.100.8/gate.php",
                                                   "x.a-c2.example"}
    b = keyed.call("tracker/query", "ISP-B").json()
    assert {e["value"] for e in b["entries"]} == {"203.0.113.9", "http://www.b-c2.example/gate.php"}
    online = keyed.call("tracker/query", status="online").json()
    assert [e["value"] for e in online["entries"]] == ["198.51.100.7"] and online["total"] == 1
    assert keyed.call("tracker/query", family="waledac").json()["total"] == 1
    assert [e["value"] for e in keyed.call("tracker/query", kind="url").json()["entries"]] == [
        "http://198.51.100.8/gate.php"]
    assert keyed.call("tracker/query", status="bogus").status_code == 400


def test_reports_list_download_and_query(keyed):
    r = keyed.call("reports/list", **PERIOD)
    assert r.status_code == 200, r.text
    days = r.json()["days"]
    mine = [e for e in keyed.checkins if e["ip"].startswith("198.51.100.")]
    resolvers = [e for e in keyed.dns if e["ip"].startswith("198.51.100.")]
    assert {d["day"] for d in days} == {e["day"].isoformat() for e in mine + resolvers}
    first = days[-1]
    http = [x for x in first["reports"] if x["type"] == "event4_sinkhole_http"]
    day = date.fromisoformat(first["day"])
    expected = [e for e in mine if e["day"] == day and e["kind"] == "http"]
    if expected:
        assert http[0]["name"] == f"{first['day']}-event4_sinkhole_http-cert_a.csv"
        assert http[0]["rows"] == len(expected)
    report = first["reports"][0]
    r = keyed.call("reports/download", day=first["day"], type=report["type"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert report["name"] in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == report["rows"] and list(rows[0]) == list(ss.REPORTS[report["type"]])
    assert {row["src_ip"] for row in rows} <= _truth(keyed.checkins, "198.51.100.")
    audit = keyed.console.store.audit_log(action="download")
    assert audit[0].target == report["name"] and audit[0].actor == f"api:{keyed.keys['CERT-A'][0]}"
    q = keyed.call("reports/query", type=report["type"], date_from=first["day"], date_to=first["day"], size=2)
    assert q.status_code == 200 and q.json()["total"] == report["rows"]
    assert [x["src_ip"] for x in q.json()["rows"]] == [x["src_ip"] for x in rows[:2]]
    # another partner's day holds none of A's rows; a day without rows in scope has no file
    b = keyed.call("reports/download", "ISP-B", day=first["day"], type=report["type"])
    assert b.status_code in (200, 404) and "198.51.100." not in b.text
    assert keyed.call("reports/download", day="2030-01-01", type=report["type"]).status_code == 404
    assert keyed.call("reports/list", date_from="2030-01-01", date_to="2030-01-02").json()["days"] == []


# --- OpenAPI ------------------------------------------------------------------

def test_openapi_is_valid_and_documents_every_method(keyed):
    r = keyed.client().get("/api/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    from openapi_spec_validator import validate

    validate(spec)
    assert set(spec["paths"]) == {f"/api/{m.name}" for m in api.METHODS}
    app_paths = {r.path for r in keyed.console.app().routes if getattr(r, "access", None) == "api"}
    assert app_paths - {"/api/{rest:path}"} == set(spec["paths"])
    for m in api.METHODS:
        body = spec["paths"][f"/api/{m.name}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert set(body["properties"]) == {"apikey", "timestamp", "nonce", *m.params}
    doc = (ROOT / "docs" / "console.md").read_text()
    for m in api.METHODS:
        assert f"`{m.name}`" in doc, f"docs/console.md does not describe {m.name}"


def test_every_api_route_checks_the_signature(keyed):
    """Enumerates the app's api routes: each answers 401 to an unsigned request."""
    routes = [r for r in keyed.console.app().routes if getattr(r, "access", None) == "api"]
    assert len(routes) == len(api.METHODS) + 1
    c = keyed.client()
    for r in routes:
        path = r.path.replace("{rest:path}", "anything")
        got = c.post(path, content=json.dumps({"apikey": keyed.keys["CERT-A"][0],
                                               "timestamp": int(time.time())}))
        assert got.status_code == 401, path


# --- the partner's page --------------------------------------------------------

def test_keys_page_create_shows_secret_once_and_revoke(console):
    a = console.client("alice")
    token = console.csrf(a, "/my/keys")
    r = a.post("/my/keys", data={"label": "nightly <b>fetch</b>", "csrf_token": token})
    assert r.status_code == 200
    key_id = re.search(r'id="key-id">([0-9a-f]{16})<', r.text).group(1)
    secret = re.search(r'id="key-secret">([0-9a-f]{64})<', r.text).group(1)
    assert secret == console.ctx.secret.derive("api:" + key_id).hex()
    assert "&lt;b&gt;fetch" in r.text and "<b>fetch" not in r.text
    again = a.get("/my/keys").text
    assert key_id in again and secret not in again
    assert a.post("/my/keys", data={"label": "x"}).status_code == 403  # no CSRF token
    b = console.client("bob")
    assert b.post(f"/my/keys/{key_id}/revoke", data={"csrf_token": console.csrf(b, "/my/keys")}).status_code == 404
    assert apikeys.key(console.store, key_id).revoked is None
    assert console.client("opa").get("/my/keys").status_code == 404
    r = a.post(f"/my/keys/{key_id}/revoke", data={"csrf_token": token})
    assert r.status_code == 303 and apikeys.key(console.store, key_id).revoked is not None
    assert a.post("/my/keys", data={"label": "", "csrf_token": token}).status_code == 400


def test_operator_lists_and_revokes_a_partners_keys(console):
    s = console.store
    a_id, b_id = console.partners["CERT-A"], console.partners["ISP-B"]
    mine, _ = apikeys.create(s, console.ctx.secret, a_id, "nightly <i>fetch</i>", by="alice")
    other, _ = apikeys.create(s, console.ctx.secret, b_id, "bob's", by="bob")
    op = console.client("opa")
    page = op.get(f"/partners/{a_id}").text
    assert mine.key_id in page and other.key_id not in page and "nightly &lt;i&gt;fetch" in page
    assert f'action="/partners/{a_id}/keys/{mine.key_id}/revoke"' in page
    token = console.csrf(op, f"/partners/{a_id}")
    assert op.post(f"/partners/{a_id}/keys/{mine.key_id}/revoke").status_code == 403  # no CSRF token
    # another partner's key under this partner's URL does not exist
    assert op.post(f"/partners/{a_id}/keys/{other.key_id}/revoke", data={"csrf_token": token}).status_code == 404
    assert apikeys.key(s, other.key_id).revoked is None
    r = op.post(f"/partners/{a_id}/keys/{mine.key_id}/revoke", data={"csrf_token": token})
    assert (r.status_code, r.headers["location"]) == (303, f"/partners/{a_id}")
    assert apikeys.key(s, mine.key_id).revoked is not None
    entry = s.audit_log(action="apikey-revoke")[0]
    assert (entry.actor, entry.target) == ("opa", mine.key_id)
    assert "revoked" in op.get(f"/partners/{a_id}").text
    alice = console.client("alice")  # a partner never reaches the operators' route
    assert alice.post(f"/partners/{b_id}/keys/{other.key_id}/revoke",
                      data={"csrf_token": console.csrf(alice, "/my/keys")}).status_code == 404


# --- CLI ------------------------------------------------------------------------

def _cli(*args, env=None):
    e = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run([*TAKEDOWN, *args], capture_output=True, text=True,
                          env={**e, **(env or {})}, timeout=120)


def test_cli_apikey_create_list_revoke(console):
    r = _cli("console", "apikey", "create", "CERT-A", "--label", "cron", "--operation", str(console.path))
    assert r.returncode == 0, r.stderr
    key_id = re.search(r"key id: ([0-9a-f]{16})", r.stdout).group(1)
    secret = re.search(r"secret: ([0-9a-f]{64})", r.stdout).group(1)
    assert secret == console.ctx.secret.derive("api:" + key_id).hex()
    listed = _cli("console", "apikey", "list", "--operation", str(console.path))
    assert listed.returncode == 0 and key_id in listed.stdout and "CERT-A" in listed.stdout
    assert secret not in listed.stdout
    assert _cli("console", "apikey", "revoke", key_id, "--operation", str(console.path)).returncode == 0
    assert apikeys.key(console.store, key_id).revoked is not None
    bad = _cli("console", "apikey", "revoke", "ffff", "--operation", str(console.path))
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ") and bad.stderr.count("\n") == 1
    bad = _cli("console", "apikey", "create", "NOBODY", "--label", "x", "--operation", str(console.path))
    assert bad.returncode == 1 and "NOBODY" in bad.stderr


# --- the example client and curl, against a live console on loopback ------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live(keyed):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([*TAKEDOWN, "console", str(keyed.console.path),
                             "--listen", f"127.0.0.1:{port}"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        for line in proc.stderr:
            if "console ready" in line:
                break
            assert time.monotonic() < deadline, "the console did not start"
        else:
            pytest.fail(f"the console exited: {proc.wait()}")
        yield keyed, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_example_client_and_curl_against_live_console(live):
    keyed, url = live
    key_id, secret = keyed.keys["CERT-A"]
    r = subprocess.run([sys.executable, str(CLIENT), "--url", url, "--key", key_id, "--secret", secret,
                        "ips/query", "date_from=2024-12-16", "date_to=2025-01-12", "size=1000"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert {x["ip"] for x in json.loads(r.stdout)["ips"]} == _truth(keyed.checkins, "198.51.100.")
    r = subprocess.run([sys.executable, str(CLIENT), "--url", url, "--key", key_id, "--secret", secret,
                        "ips/get", f"ip={B_IP}"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "404" in r.stderr
    r = subprocess.run([sys.executable, str(CLIENT), "--url", url, "--key", key_id, "--secret", "0" * 64,
                        "key/info"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "401" in r.stderr
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    body = json.dumps({"apikey": key_id, "timestamp": int(time.time())})
    out = subprocess.run([curl, "-sS", "-X", "POST", "-H", "Content-Type: application/json", "-H",
                          f"HMAC2: {apikeys.signature(secret, body.encode())}", "--data-binary", body,
                          f"{url}/api/key/info"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout)["partner"] == "CERT-A"
