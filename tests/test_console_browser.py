"""The console in a real browser: Playwright for Python driving Debian's
Chromium (``/usr/bin/chromium``; never ``playwright install``) against a
real ``takedown console`` process on loopback, on events written by the
real segment writer.

Screenshots of the main pages go to tests/artifacts/console/ (gitignored;
the README shows one of them).

The whole flow of issue 16 point 7: log in as an operator, approve a
partner's claim (/claims), log in as that partner, see its own infected IPs
and not another's (/my/ips), download its CSV (/my/reports), change a
tracker status by hand (/tracker). Should one of those pages go away (its
URL answers 404 to the role that owns it) the test skips saying which.
"""

from __future__ import annotations

import io
import re
import subprocess
import time
from csv import DictReader
from pathlib import Path

import pytest

from console_helpers import PASSWORD, make_console
from net_helpers import CHROMIUM_FLAGS, TAKEDOWN
from takedown.tracker.indicator import Indicator
from test_report import make_events, write_dataset

playwright_sync = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).parent / "artifacts" / "console"
ONE_TIME = "one-time-password-1"
NEW_PASSWORD = "a brand new passphrase 2"
#: CERT-A asks for this (pending until the operator approves); ISP-B holds the other
CERT_A_NET, ISP_B_NET = "198.51.100.0/24", "203.0.113.0/24"


@pytest.fixture(scope="module")
def console_url(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser")
    con = make_console(d)
    checkins, dns = make_events()
    write_dataset(con.ctx.operation.storage, checkins, dns)
    s = con.store
    s.add_user("opone", ONE_TIME, role="operator", must_change=True, by="test")
    s.add_claim(con.partners["CERT-A"], "cidr", CERT_A_NET, by="test")
    s.add_claim(con.partners["ISP-B"], "cidr", ISP_B_NET, by="test", status="approved")
    con.ctx.tracker.add([Indicator("gate.c2-one.example", "domain", "zeus", status="online")], by="test")
    s.close()
    err = d / "console.stderr"
    with open(err, "wb") as fe:
        proc = subprocess.Popen([TAKEDOWN, "console", str(con.path), "--listen", "127.0.0.1:0"], cwd=d,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=fe)
    try:
        end = time.monotonic() + 60
        while not (m := re.search(r"console ready (http://\S+?)/?$", err.read_text(), re.M)):
            assert proc.poll() is None and time.monotonic() < end, err.read_text()
            time.sleep(0.1)
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, console_url):
    context = browser.new_context(base_url=console_url, viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def shot(pg, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def log_in(pg, username: str, password: str = PASSWORD) -> None:
    pg.goto("/login")
    pg.fill("input[name=username]", username)
    pg.fill("input[name=password]", password)
    pg.click("form[action='/login'] button[type=submit]")
    pg.wait_for_load_state()


def needs(pg, path: str, owner: str) -> None:
    """Skip (saying so) while the page at ``path`` is not there yet."""
    r = pg.goto(path)
    if r is None or r.status == 404:
        pytest.skip(f"{path} is not served yet ({owner}'s page): complete this flow after the merge")


def test_operator_changes_the_one_time_password_and_sees_the_overview(page):
    log_in(page, "opone", ONE_TIME)
    assert page.url.endswith("/password")  # a one-time password: a new one before anything else
    shot(page, "password")
    page.fill("input[name=current]", ONE_TIME)
    page.fill("input[name=new]", NEW_PASSWORD)
    page.fill("input[name=again]", NEW_PASSWORD)
    page.click("form[action='/password'] button[type=submit]")  # not the bar's "Log out"
    page.wait_for_url(re.compile(r"^http://[^/]+/$"))
    assert page.locator("h1").inner_text() == "Operation consoletest"
    assert "1 claim(s) waiting for approval" in page.content()
    for href, label in (("/status", "Status"), ("/partners", "Partners"), ("/audit", "Audit log")):
        assert page.locator(f"a[href='{href}']").inner_text() == label  # the operator's menu
    shot(page, "overview-operator")
    # the old password is gone
    page.context.clear_cookies()
    log_in(page, "opone", ONE_TIME)
    assert page.url.endswith("/login")


def test_login_page_and_a_wrong_password(page):
    log_in(page, "opa", "not the password")
    assert page.url.endswith("/login")
    assert page.locator("input[name=username]").is_visible()
    shot(page, "login")


def test_partner_sees_its_own_claims_only(page):
    log_in(page, "bob")
    assert page.locator("h1").inner_text() == "ISP-B"
    body = page.content()
    assert ISP_B_NET in body and CERT_A_NET not in body
    assert page.locator("a[href='/partners']").count() == 0  # no operator menu
    assert page.locator("a[href='/my/ips']").count() == 1
    shot(page, "overview-partner")
    r = page.goto("/audit")  # an operator's page: does not exist for a partner
    assert r.status == 404


# --- the full flow of issue 16 point 7 (pages of H3, H6, H2) -----------------------------------


def test_approve_a_claim_then_the_partner_sees_its_ips_and_its_csv(page, browser, console_url):
    log_in(page, "opa")
    needs(page, "/claims", "H3 (claims)")
    shot(page, "claims-pending")
    row = page.locator("tr", has_text=CERT_A_NET)
    row.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert page.locator("tr", has_text=CERT_A_NET).count() == 0  # no longer pending
    page.goto("/partners")
    shot(page, "partners")

    ctx = browser.new_context(base_url=console_url, accept_downloads=True, viewport={"width": 1200, "height": 900})
    alice = ctx.new_page()
    alice.set_default_timeout(15_000)
    try:
        log_in(alice, "alice")
        needs(alice, "/my/ips", "H6 (partner data)")
        text = alice.locator("main").inner_text()
        # its own infected IPs (198.51.100.x), never ISP-B's (203.0.113.x)
        assert "198.51.100." in text and "203.0.113." not in text
        shot(alice, "my-ips")
        assert alice.goto("/my/ips/203.0.113.1").status == 404  # another partner's IP: does not exist
        needs(alice, "/my/reports", "H6 (partner data)")
        shot(alice, "my-reports")
        alice.locator("a[href^='/my/reports/']").first.click()  # the newest day's files
        alice.wait_for_load_state()
        link = alice.locator("a[href$='.csv']").first
        with alice.expect_download() as dl:
            link.click()
        csv = Path(dl.value.path()).read_text()
        assert csv.splitlines()[0].lstrip('"').startswith("timestamp"), csv[:200]
        sources = {row["src_ip"] for row in DictReader(io.StringIO(csv))}
        # its own bots only (203.0.113.80, the sinkhole's address, is in dst_ip)
        assert sources and all(ip.startswith("198.51.100.") for ip in sources), sources
    finally:
        ctx.close()


def test_operator_changes_a_tracker_status(page):
    log_in(page, "opa")
    needs(page, "/tracker", "H2 (operator pages)")
    shot(page, "tracker")
    page.get_by_role("link", name="gate.c2-one.example").click()
    page.wait_for_load_state()
    page.select_option("select[name=status]", "offline")
    page.fill("input[name=reason]", "checked by hand in the browser test")
    page.get_by_role("button", name="Change").click()
    page.wait_for_load_state()
    history = page.locator("tr", has_text="checked by hand in the browser test")
    assert history.count() == 1 and "offline" in history.inner_text()
    shot(page, "tracker-indicator")
