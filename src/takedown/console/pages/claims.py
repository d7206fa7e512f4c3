"""A partner's own claims: what it has asked to see, their status, a form to
ask for more (approved at once where :mod:`takedown.console.approval`'s rules
allow, else pending) and withdrawing a pending one. Another partner's claim
does not exist here: its id is a 404."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from takedown.console import approval, web
from takedown.console.access import NotFound, route
from takedown.console.schema import CLAIM_KINDS
from takedown.errors import ConsoleError

__all__ = ["ROUTES"]


async def my_claims(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    u = web.user(request)
    claims = web.ctx(request).store.claims(partner_id=u.partner_id)
    return web.render(request, "my_claims.html.j2", status=status, claims=claims, claim_kinds=CLAIM_KINDS,
                      error=error)


async def my_claim_add(request: Request) -> Response:
    u = web.user(request)
    c = web.ctx(request)
    form = await request.form()
    try:
        approval.request(c.store, u.partner_id, str(form.get("kind", "")), str(form.get("value", "")),
                         by=u.username, by_operator=False, enricher=approval.enricher_for(c.operation),
                         address=web.client_address(request))
    except ConsoleError as e:
        return await my_claims(request, error=str(e), status=400)
    return RedirectResponse("/my/claims", status_code=303)


async def my_claim_withdraw(request: Request) -> Response:
    u = web.user(request)
    store = web.ctx(request).store
    try:
        claim = store.claim(int(request.path_params["claim_id"]))
    except ConsoleError:
        raise NotFound() from None
    if claim.partner_id != u.partner_id:
        raise NotFound()
    try:
        store.withdraw(claim.id, by=u.username, address=web.client_address(request))
    except ConsoleError as e:
        return await my_claims(request, error=str(e), status=400)
    return RedirectResponse("/my/claims", status_code=303)


ROUTES = [
    route("/my/claims", my_claims, access="partner"),
    route("/my/claims", my_claim_add, access="partner", methods=("POST",)),
    route("/my/claims/{claim_id:int}/withdraw", my_claim_withdraw, access="partner", methods=("POST",)),
]
