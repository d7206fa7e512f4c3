"""The operators' partner pages: the partners, one partner's users, claims
and API keys (an operator may revoke a key), and every pending claim to
decide (docs/console.md, "partners and claims")."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from takedown.console import apikeys, approval, web
from takedown.console.access import NotFound, route
from takedown.console.schema import CLAIM_KINDS, PARTNER_KINDS
from takedown.errors import ConsoleError

__all__ = ["ROUTES"]


def _partner(request: Request):
    try:
        return web.ctx(request).store.partner(int(request.path_params["partner_id"]))
    except ConsoleError:
        raise NotFound() from None


def _claim(request: Request):
    try:
        return web.ctx(request).store.claim(int(request.path_params["claim_id"]))
    except ConsoleError:
        raise NotFound() from None


def _with_overlaps(store, claims):
    """(claim, other partners' claims on the same object) for each claim."""
    everyone = store.claims()
    names = {p.id: p for p in store.partners()}
    return [(c, approval.overlaps(c, everyone, names)) for c in claims]


async def partners_list(request: Request, error: str | None = None, status: int = 200) -> Response:
    store = web.ctx(request).store
    claims = store.claims()
    users = store.users()
    rows = []
    for p in store.partners():
        mine = [c for c in claims if c.partner_id == p.id]
        rows.append((p, sum(u.partner_id == p.id for u in users), sum(c.status == "pending" for c in mine),
                     sum(c.status == "approved" for c in mine)))
    return web.render(request, "partners.html.j2", status=status, rows=rows, kinds=PARTNER_KINDS, error=error)


async def partner_add(request: Request) -> Response:
    form = await request.form()
    u = web.user(request)
    try:
        pid = web.ctx(request).store.add_partner(str(form.get("name", "")), str(form.get("kind", "")),
                                                 str(form.get("contact", "")), by=u.username,
                                                 address=web.client_address(request))
    except ConsoleError as e:
        return await partners_list(request, error=str(e), status=400)
    return RedirectResponse(f"/partners/{pid}", status_code=303)


async def partner_page(request: Request, *, error: str | None = None, status: int = 200,
                       password: tuple[str, str] | None = None) -> Response:
    p = _partner(request)
    store = web.ctx(request).store
    return web.render(request, "partner.html.j2", status=status, partner=p, users=store.users(partner_id=p.id),
                      claims=_with_overlaps(store, store.claims(partner_id=p.id)), claim_kinds=CLAIM_KINDS,
                      keys=apikeys.keys(store, p.id), error=error, password=password)


async def partner_user_add(request: Request) -> Response:
    p = _partner(request)
    form = await request.form()
    u = web.user(request)
    password = secrets.token_urlsafe(12)
    try:
        web.ctx(request).store.add_user(str(form.get("username", "")), password, role="partner", partner_id=p.id,
                                        must_change=True, by=u.username, address=web.client_address(request))
    except ConsoleError as e:
        return await partner_page(request, error=str(e), status=400)
    # shown in this response only: the store keeps its Argon2id hash
    return await partner_page(request, password=(str(form.get("username", "")).strip().lower(), password))


async def partner_claim_add(request: Request) -> Response:
    p = _partner(request)
    form = await request.form()
    c = web.ctx(request)
    u = web.user(request)
    try:
        approval.request(c.store, p.id, str(form.get("kind", "")), str(form.get("value", "")), by=u.username,
                         by_operator=True, address=web.client_address(request))
    except ConsoleError as e:
        return await partner_page(request, error=str(e), status=400)
    return RedirectResponse(f"/partners/{p.id}", status_code=303)


async def partner_key_revoke(request: Request) -> Response:
    p = _partner(request)
    try:  # the key of another partner is not on this partner's page: 404
        apikeys.revoke(web.ctx(request).store, request.path_params["key_id"], by=web.user(request).username,
                       partner_id=p.id, address=web.client_address(request))
    except ConsoleError:
        raise NotFound() from None
    return RedirectResponse(f"/partners/{p.id}", status_code=303)


async def claims_pending(request: Request) -> Response:
    store = web.ctx(request).store
    pending = sorted(store.claims(status="pending"), key=lambda c: (c.requested_at, c.id))
    names = {p.id: p.name for p in store.partners()}
    return web.render(request, "claims_pending.html.j2", claims=_with_overlaps(store, pending), names=names)


def _back(form, claim) -> str:
    # only two places send here: the pending list and the claim's partner page
    return "/claims" if form.get("back") == "claims" else f"/partners/{claim.partner_id}"


async def claim_approve(request: Request) -> Response:
    claim = _claim(request)
    form = await request.form()
    c = web.ctx(request)
    approval.approve(c.store, claim.id, by=web.user(request).username, note=str(form.get("note", "")).strip(),
                     enricher=approval.enricher_for(c.operation), address=web.client_address(request))
    return RedirectResponse(_back(form, claim), status_code=303)


async def claim_reject(request: Request) -> Response:
    claim = _claim(request)
    form = await request.form()
    web.ctx(request).store.decide(claim.id, "rejected", by=web.user(request).username,
                                  note=str(form.get("reason", "")).strip(), address=web.client_address(request))
    return RedirectResponse(_back(form, claim), status_code=303)


ROUTES = [
    route("/partners", partners_list, access="operator"),
    route("/partners", partner_add, access="operator", methods=("POST",)),
    route("/partners/{partner_id:int}", partner_page, access="operator"),
    route("/partners/{partner_id:int}/users", partner_user_add, access="operator", methods=("POST",)),
    route("/partners/{partner_id:int}/claims", partner_claim_add, access="operator", methods=("POST",)),
    route("/partners/{partner_id:int}/keys/{key_id}/revoke", partner_key_revoke, access="operator",
          methods=("POST",)),
    route("/claims", claims_pending, access="operator"),
    route("/claims/{claim_id:int}/approve", claim_approve, access="operator", methods=("POST",)),
    route("/claims/{claim_id:int}/reject", claim_reject, access="operator", methods=("POST",)),
]
