"""Issue 17 point 4: the notice to the defendants (takedown.case.notice):
the static site, one mail per recipient, sending through a real SMTP server
(aiosmtpd) on loopback, every sending recorded."""

from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from takedown.case.notice import build_notice, load_recipients, send_notices
from takedown.case.sendings import notice_sendings
from takedown.errors import CaseError
from takedown.operation import load_operation
from takedown.tracker import db
from test_case_model import BASE, CASE, write
from harness.peers import free_port
from smtp_helpers import Collect


@pytest.fixture
def case(tmp_path):
    op = load_operation(write(tmp_path, BASE + CASE.replace('name = "John Does 1-27"',
                                                            'name = "John Does 1-27 <script>alert(1)</script>"')))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "order.pdf").write_bytes(b"%PDF-1.4 the order\n")
    (docs / "complaint.pdf").write_bytes(b"%PDF-1.4 the complaint\n")
    rec = tmp_path / "recipients.csv"
    rec.write_text("# registrants\nowner@waledac-reg.example,Registrant One\n\nOWNER@waledac-reg.example\n"
                   "other@cards.example\n")
    return op, docs, rec


def test_site_lists_the_case_and_each_document_with_its_hash(case, tmp_path):
    op, docs, rec = case
    pkg = build_notice(op, tmp_path / "out", documents=docs, recipients=load_recipients(rec),
                       site_url="https://notice.example/waledac/")
    html = pkg.index.read_text()
    assert "Case No. <strong>1:10-cv-00156</strong>" in html
    assert "Microsoft Corporation" in html and "Notice of temporary restraining order (2026-10-05)" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert [d.name for d in pkg.documents] == ["complaint.pdf", "order.pdf"]
    for d in pkg.documents:
        published = tmp_path / "out" / "site" / "documents" / d.name
        assert d.path == published
        assert published.read_bytes() == (docs / d.name).read_bytes()
        assert d.sha256 == hashlib.sha256(published.read_bytes()).hexdigest() and d.sha256 in html
        assert f'href="documents/{d.name}"' in html
    assert "3 domain name(s)" in html


def test_one_mail_per_recipient(case, tmp_path):
    op, docs, rec = case
    people = load_recipients(rec)
    assert [(r.address, r.name, r.where.rsplit(":", 1)[1]) for r in people] == [
        ("owner@waledac-reg.example", "Registrant One", "2"), ("other@cards.example", "", "5")]
    pkg = build_notice(op, tmp_path / "out", documents=docs, recipients=people, sender="legal@plaintiff.example",
                       site_url="https://notice.example/waledac/")
    assert len(pkg.mails) == 2
    msg = email.message_from_bytes(pkg.mails[0][1].read_bytes(), policy=email.policy.default)
    assert msg["To"] == "Registrant One <owner@waledac-reg.example>"
    assert msg["Subject"] == ("Notice of temporary restraining order: U.S. District Court, Eastern District of "
                              "Virginia, case 1:10-cv-00156")
    body = msg.get_content()
    assert "To Registrant One:" in body and "https://notice.example/waledac/" in body
    assert f"2. order.pdf (SHA-256 {pkg.documents[1].sha256})" in body
    assert "<script>alert(1)</script>" in body  # plain text: not escaped


def test_operator_templates_win(case, tmp_path):
    op, docs, rec = case
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notice-index.html.j2").write_text("<p>{{ case.case_number }} by {{ operator }}</p>")
    pkg = build_notice(op, tmp_path / "out", templates=mine)
    assert pkg.index.read_text() == "<p>1:10-cv-00156 by the operator of this sinkhole</p>"
    (mine / "notice-index.html.j2").write_text("{{ case.no_such_key }}")
    with pytest.raises(CaseError, match=r"notice-index.html.j2:1: template error: .*no_such_key"):
        build_notice(op, tmp_path / "out", templates=mine)
    (mine / "notice-index.html.j2").write_text("<p>\n{% if x %}\n")
    with pytest.raises(CaseError, match=r"notice-index.html.j2:2: template error: Unexpected end of template"):
        build_notice(op, tmp_path / "out", templates=mine)


def test_bad_recipient_line(tmp_path):
    rec = tmp_path / "r.csv"
    rec.write_text("a@b.example\nRegistrant One,owner@x.example\n")
    with pytest.raises(CaseError, match=r"r.csv:2: 'Registrant One' is not an e-mail address"):
        load_recipients(rec)


def smtp_server(handler):
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def db_rows(op):
    engine = db.open_engine(db.resolve_url(op.database.url or None, op.storage))
    with engine.connect() as conn:
        rows = [(r.address, r.status, r.message_id, r.notice, r.case_number)
                for r in conn.execute(select(notice_sendings).order_by(notice_sendings.c.id))]
    engine.dispose()
    return rows


def test_sent_through_smtp_and_recorded(case, tmp_path):
    op, docs, rec = case
    pkg = build_notice(op, tmp_path / "out", documents=docs, recipients=load_recipients(rec),
                       sender="legal@plaintiff.example")
    handler = Collect()
    controller, port = smtp_server(handler)
    try:
        res = send_notices(op, pkg, ("127.0.0.1", port), now=lambda: 1_790_000_000)
    finally:
        controller.stop()
    assert (res.sent, res.skipped, res.log) == (2, 0, tmp_path / "out" / "sendings.csv")
    assert [e.rcpt_tos for e in handler.envelopes] == [["owner@waledac-reg.example"], ["other@cards.example"]]
    assert all(e.mail_from == "legal@plaintiff.example" for e in handler.envelopes)
    ids = [email.message_from_bytes(e.content, policy=email.policy.default)["Message-ID"] for e in handler.envelopes]
    nid = pkg.notice
    assert nid == hashlib.sha256(pkg.index.read_bytes()).hexdigest()
    assert db_rows(op) == [("owner@waledac-reg.example", "sent", ids[0], nid, "1:10-cv-00156"),
                           ("other@cards.example", "sent", ids[1], nid, "1:10-cv-00156")]
    rows = list(csv.DictReader(res.log.open()))  # the export
    assert [(r["time"], r["address"], r["status"], r["message_id"], r["notice"]) for r in rows] == [
        ("2026-09-21T14:13:20Z", "owner@waledac-reg.example", "sent", ids[0], nid),
        ("2026-09-21T14:13:20Z", "other@cards.example", "sent", ids[1], nid)]


def test_a_resend_skips_who_has_it_and_a_new_notice_goes_to_all(case, tmp_path):
    """The relay refuses one recipient; sending the same notice again sends
    only to that one. A notice whose page changed (a new document) is a new
    notice: everyone gets it."""
    op, docs, rec = case

    class Refuse(Collect):
        refuse = {"other@cards.example"}

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # aiosmtpd hook
            if address in self.refuse:
                return "550 5.1.1 mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    handler = Refuse()
    controller, port = smtp_server(handler)
    try:
        pkg = build_notice(op, tmp_path / "out", documents=docs, recipients=load_recipients(rec))
        with pytest.raises(CaseError, match=r"1 of 2 refused \(1 sent; see .*sendings.csv\)"):
            send_notices(op, pkg, ("127.0.0.1", port))
        assert [a for a, *_ in db_rows(op)] == ["owner@waledac-reg.example", "other@cards.example"]
        assert db_rows(op)[1][1] == "failed"
        handler.refuse = set()
        again = build_notice(op, tmp_path / "out", documents=docs, recipients=load_recipients(rec))
        res = send_notices(op, again, ("127.0.0.1", port))
        assert (res.sent, res.skipped) == (1, 1)
        res = send_notices(op, again, ("127.0.0.1", port))
        assert (res.sent, res.skipped) == (0, 2)  # nothing left: no connection even
        (docs / "declaration.pdf").write_bytes(b"%PDF-1.4 a new pleading\n")
        new = build_notice(op, tmp_path / "out", documents=docs, recipients=load_recipients(rec))
        assert new.notice != pkg.notice
        res = send_notices(op, new, ("127.0.0.1", port))
        assert (res.sent, res.skipped) == (2, 0)
    finally:
        controller.stop()
    assert [e.rcpt_tos for e in handler.envelopes] == [["owner@waledac-reg.example"], ["other@cards.example"],
                                                       ["owner@waledac-reg.example"], ["other@cards.example"]]
    rows = list(csv.DictReader((tmp_path / "out" / "sendings.csv").open()))
    assert [r["status"] for r in rows] == ["sent", "failed", "sent", "sent", "sent"]
    assert "550 5.1.1 mailbox unavailable" in rows[1]["detail"]


def test_failed_sending_is_recorded(case, tmp_path):
    op, docs, rec = case
    pkg = build_notice(op, tmp_path / "out", recipients=load_recipients(rec))
    port = free_port()  # nobody listens there
    with pytest.raises(CaseError, match=rf"SMTP 127.0.0.1:{port}: .*\(0 of 2 sent; see .*sendings.csv\)"):
        send_notices(op, pkg, ("127.0.0.1", port))
    rows = list(csv.DictReader((tmp_path / "out" / "sendings.csv").open()))
    assert [(r["address"], r["status"]) for r in rows] == [("owner@waledac-reg.example", "failed"),
                                                           ("other@cards.example", "failed")]
    assert [(a, s) for a, s, *_ in db_rows(op)] == [("owner@waledac-reg.example", "failed"),
                                                    ("other@cards.example", "failed")]


def test_cli_case_notice(case, tmp_path):
    op, docs, rec = case
    handler, port = Collect(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    src = Path(__file__).resolve().parents[1] / "src"
    try:
        r = subprocess.run([sys.executable, "-c", "from takedown.cli import main; main()", "case", "notice",
                            "op.toml", "--out", "out", "--documents", "docs", "--recipients", "recipients.csv",
                            "--smtp", f"127.0.0.1:{port}"], cwd=tmp_path, capture_output=True, text=True,
                           env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"})
    finally:
        controller.stop()
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["site: out/site/index.html (2 document(s))", "mails: 2 in out/mail",
                                     f"sent: 2 through 127.0.0.1:{port} (recorded in the operation's database, "
                                     f"exported to out/sendings.csv)"]
    assert len(handler.envelopes) == 2
