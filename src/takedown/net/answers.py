"""What the HTTP/TLS/TCP listeners answer with, loaded as a unit.

The fingerprint rules (and their command responses, joined with the
case's command authorities: :class:`~takedown.net.commands.CommandTable`),
the response policies (notice pages, operator templates) and the TLS
certificate are read here, before any worker serves,
so a bad rules file or template is one ``FILE:LINE:`` error at start-up or at
a reload (which then keeps the previous answers). The composition root
(:mod:`takedown.runtime`) holds the result in its Runtime.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from takedown.net.certs import self_signed_context
from takedown.net.commands import CommandTable
from takedown.net.fingerprints import RuleSet
from takedown.net.responses import ResponsePolicy
from takedown.operation import Operation


@dataclass(frozen=True)
class Answers:
    rules: RuleSet
    responses: dict[str, ResponsePolicy]
    ssl_context: ssl.SSLContext | None
    commands: CommandTable = CommandTable()


def load_answers(op: Operation) -> Answers:
    rules = RuleSet.shipped() if op.fingerprints.shipped else RuleSet.empty()
    if op.fingerprints.rules is not None:
        rules = RuleSet.load(op.fingerprints.rules).then(rules)
    n = op.notice
    responses = {
        lst.kind: ResponsePolicy(
            operator=n.operator, contact_url=n.contact_url, cert_url=n.cert_url,
            template_dir=n.template_dir, template_file=lst.template,
        )
        for lst in (op.http, op.tls, op.tcp) if lst is not None
    }
    ctx = self_signed_context(cert_dir(op)) if op.tls is not None and op.tls.handshake else None
    commands = CommandTable(rules.commands, op.case.authorities if op.case is not None else ())
    return Answers(rules, responses, ctx, commands)


def cert_dir(op: Operation) -> Path:
    """Where the sinkhole's TLS certificate and key live."""
    return op.storage / "tls"


def answer_files(op: Operation) -> list[Path]:
    """Every file the answers are read from (a change to one reloads them)."""
    out: list[Path] = []
    if op.fingerprints.rules is not None:
        out.append(op.fingerprints.rules)
    if op.notice.template_dir is not None and op.notice.template_dir.is_dir():
        out += sorted(p for p in op.notice.template_dir.iterdir() if p.is_file())
    for lst in (op.http, op.tls, op.tcp):
        if lst is not None and lst.template is not None:
            out.append(lst.template)
    return out + certificate_files(op)


def certificate_files(op: Operation) -> list[Path]:
    """The generated TLS certificate and key, when a listener finishes handshakes."""
    if op.tls is None or not op.tls.handshake:
        return []
    d = cert_dir(op)
    return [d / "sinkhole-cert.pem", d / "sinkhole-key.pem"]
