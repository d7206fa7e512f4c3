"""``takedown case notice``: the notice to the defendants (issue 17 point 4).

In Waledac, Rustock and Kelihos the court let Microsoft serve the
defendants, whose names nobody knew, by e-mail to the addresses they had
registered their domains with and by publication on a web site
(noticeofpleadings.com): a caption of the case, the notice, and the order
and pleadings to download. The package built here is that: a static site
(``site/index.html`` and ``site/documents/``, each document with its size
and SHA-256 so that what was published can be proved later) and one e-mail
per recipient (``mail/NNN.eml``), both from Jinja2 templates the operator
may replace (``--templates DIR``: a file there named like a shipped one
wins). ``--smtp`` sends the mails; every sending, failed ones included, is a
row of the operation's database (takedown.case.sendings), exported to
``sendings.csv``; sending the same notice again skips the addresses it was
already sent to.

Recipients come from the operator's list (``address[,name]`` a line) and,
with ``--rdap``, from the seized names' RDAP records (the registrants'
addresses, takedown.case.registrants); :func:`merge` makes one recipient
per address, naming every seized name it is the registrant of.
"""

from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import shutil
import smtplib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path

import jinja2

from takedown.analytics.notify import new_message
from takedown.case import sendings
from takedown.case.check import case_of
from takedown.case.registrants import ADDRESS, Registrants
from takedown.case.seized import listed
from takedown.case.store import case_database
from takedown.errors import CaseError
from takedown.lists import display_path
from takedown.operation import Operation, read_text

__all__ = ["Document", "NoticePackage", "Recipient", "SendResult", "build_notice", "load_recipients", "merge",
           "send_notices"]

TEMPLATES = Path(__file__).with_name("templates")
INDEX = "notice-index.html.j2"
EMAIL = "notice-email.txt.j2"


@dataclass(frozen=True)
class Recipient:
    """One address the notice is mailed to, and the line that names it."""

    address: str
    name: str
    where: str  # FILE:LINE of the recipients list, or the RDAP URL that named it
    #: the seized names RDAP gives this address as the registrant of; () for
    #: an address of the operator's list only
    domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """A file of the order or pleadings, as published: its hash proves later what was."""

    name: str
    size: int
    sha256: str
    path: Path  # the published copy, under site/documents/


@dataclass(frozen=True)
class NoticePackage:
    """What :func:`build_notice` wrote."""

    out: Path
    index: Path
    documents: tuple[Document, ...]
    mails: tuple[tuple[Recipient, Path], ...]
    #: what makes two runs the same notice (takedown.case.sendings): the
    #: SHA-256 of the page as built, which holds the caption, the notice and
    #: every document's hash
    notice: str


def load_recipients(path: Path) -> list[Recipient]:
    """``address[,name]`` a line; ``#`` starts a comment line. The same
    address twice (any case) is one recipient."""
    display = display_path(path)
    out: dict[str, Recipient] = {}
    for lineno, line in enumerate(read_text(path, CaseError).split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = next(csv.reader([line]))
        address, name = row[0].strip(), ",".join(row[1:]).strip()
        if not ADDRESS.fullmatch(address):
            raise CaseError(f"{display}:{lineno}: {address!r} is not an e-mail address (address[,name] a line)")
        out.setdefault(address.lower(), Recipient(address, name, f"{display}:{lineno}"))
    return list(out.values())


def merge(recipients: Iterable[Recipient], registrants: Registrants) -> list[Recipient]:
    """The operator's recipients, then the registrants RDAP found, one per
    address (any case): an address in both keeps the operator's line and
    name (RDAP's name where the operator gave none) and gains the names
    RDAP gives it."""
    out = {r.address.lower(): r for r in recipients}
    for g in registrants.found:
        old = out.get(g.address.lower())
        if old is None:
            out[g.address.lower()] = Recipient(g.address, g.name, g.where, g.domains)
        else:
            out[g.address.lower()] = replace(old, name=old.name or g.name,
                                             domains=old.domains + tuple(d for d in g.domains
                                                                         if d not in old.domains))
    return list(out.values())


def _environment(templates: Path | None) -> jinja2.Environment:
    dirs = ([str(templates)] if templates is not None else []) + [str(TEMPLATES)]
    return jinja2.Environment(loader=jinja2.FileSystemLoader(dirs), undefined=jinja2.StrictUndefined,
                              autoescape=lambda name: name is not None and ".html" in name, keep_trailing_newline=True)


def _render(env: jinja2.Environment, name: str, **values) -> str:
    try:
        return env.get_template(name).render(**values)
    except jinja2.TemplateError as e:
        where = f"{display_path(e.filename)}:{e.lineno}" if getattr(e, "filename", None) else _failed_at(e) or name
        raise CaseError(f"{where}: template error: {e.message or e}") from None


def _failed_at(e: BaseException) -> str | None:
    """FILE:LINE of a render-time error: Jinja2 rewrites the traceback so
    that a template's frame carries the template's file and line."""
    tb, at = e.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            at = f"{display_path(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return at


def _publish(documents: Path | None, site: Path) -> tuple[Document, ...]:
    if documents is None:
        return ()
    if not documents.is_dir():
        raise CaseError(f"--documents: {display_path(documents)} is not a directory")
    (site / "documents").mkdir(parents=True, exist_ok=True)
    out = []
    for f in sorted(p for p in documents.iterdir() if p.is_file() and not p.name.startswith(".")):
        data = f.read_bytes()
        published = site / "documents" / f.name
        shutil.copyfile(f, published)
        out.append(Document(f.name, len(data), hashlib.sha256(data).hexdigest(), published))
    return tuple(out)


def build_notice(op: Operation, out: Path, *, documents: Path | None = None, recipients: list[Recipient] = (),
                 templates: Path | None = None, sender: str = "takedown@localhost",
                 site_url: str | None = None) -> NoticePackage:
    """Write the site and the mails of the notice into ``out``."""
    case = case_of(op)
    env = _environment(templates)
    site = out / "site"
    site.mkdir(parents=True, exist_ok=True)
    docs = _publish(documents, site)
    values = dict(
        case=case, documents=docs, operator=op.notice.operator, site_url=site_url,
        seized=len(listed(op)),
        plaintiffs=[p for p in case.parties if p.role.lower() == "plaintiff"],
        defendants=[p for p in case.parties if p.role.lower() == "defendant"],
        others=[p for p in case.parties if p.role.lower() not in ("plaintiff", "defendant")],
    )
    index = site / "index.html"
    page = _render(env, INDEX, **values).encode("utf-8")
    index.write_bytes(page)
    mail_dir = out / "mail"
    mail_dir.mkdir(exist_ok=True)
    mails = []
    for i, r in enumerate(recipients, 1):
        msg = new_message(sender, (r.name, r.address),
                          f"Notice of {case.order_type}: {case.court}, case {case.case_number}")
        msg.set_content(_render(env, EMAIL, recipient=r, **values))
        path = mail_dir / f"{i:04d}.eml"
        path.write_bytes(bytes(msg))
        mails.append((r, path))
    return NoticePackage(out, index, docs, tuple(mails), hashlib.sha256(page).hexdigest())


@dataclass(frozen=True)
class SendResult:
    sent: int
    skipped: int  # already sent successfully for this notice
    log: Path  # the sendings.csv export


# A relay that refuses one message (its recipient, its sender) still takes
# the next one; anything else ends the connection.
_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


def send_notices(op: Operation, pkg: NoticePackage, smtp: tuple[str, int],
                 now: Callable[[], float] = time.time) -> SendResult:
    """Send every mail of ``pkg`` not yet sent for this notice, over one SMTP
    connection; every attempt (and each mail not attempted after a lost
    connection) is a row of the operation's database at once
    (takedown.case.sendings), then ``sendings.csv`` is exported from it.
    CaseError after recording, when any mail was not sent."""
    case = case_of(op)
    host, port = smtp
    nid = pkg.notice
    log = pkg.out / "sendings.csv"
    with case_database(op) as engine:
        done = sendings.sent_to(engine, nid)
        todo = [(r, path) for r, path in pkg.mails if r.address.lower() not in done]
        sent = failed = 0

        def note(r: Recipient, msg: EmailMessage | None, status: str, detail: str) -> None:
            sendings.record(engine, [sendings.Sending(int(now()), r.address,
                                                      msg["Message-ID"] if msg is not None else "", status, detail,
                                                      nid, case.case_number)])

        try:
            if todo:
                with smtplib.SMTP(host, port, timeout=60) as conn:
                    for r, path in todo:
                        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                        try:
                            conn.send_message(msg)
                        except _REFUSED as exc:
                            failed += 1
                            note(r, msg, sendings.FAILED, f"SMTP {host}:{port}: {_smtp_reason(exc)}")
                            continue
                        sent += 1
                        note(r, msg, sendings.SENT, f"SMTP {host}:{port}")
        except (smtplib.SMTPException, OSError) as exc:
            for r, _ in todo[sent + failed:]:
                failed += 1
                note(r, None, sendings.FAILED, f"SMTP {host}:{port}: {exc}")
            _export(engine, case.case_number, log)
            raise CaseError(f"SMTP {host}:{port}: {exc} ({sent} of {len(todo)} sent; see {display_path(log)})") \
                from None
        _export(engine, case.case_number, log)
    if failed:
        raise CaseError(f"SMTP {host}:{port}: {failed} of {len(todo)} refused ({sent} sent; "
                        f"see {display_path(log)})")
    return SendResult(sent, len(pkg.mails) - len(todo), log)


def _smtp_reason(exc: smtplib.SMTPException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt}: {code} {text.decode(errors='replace')}" for rcpt, (code, text)
                         in exc.recipients.items())
    code, text = getattr(exc, "smtp_code", ""), getattr(exc, "smtp_error", b"")
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}".strip()


def _export(engine, case_number: str, log: Path) -> None:
    try:
        log.write_text(sendings.export_csv(engine, case_number), encoding="utf-8", newline="")
    except OSError as e:
        raise CaseError(f"{display_path(log)}: {e.strerror}") from None
