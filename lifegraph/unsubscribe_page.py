"""``/unsubscribe``: the link in every notification email (reminders, daily digests).

``POST /unsubscribe?token=…`` with the body ``List-Unsubscribe=One-Click`` is RFC 8058's
one-click unsubscribe, which mail clients send from the ``List-Unsubscribe`` header; it
turns the user's email notifications off. ``GET`` only shows a page with a button that
sends that POST: mail scanners open links, and must not unsubscribe anyone by doing so.
The token (signed, naming the user) is the only credential.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from resolvers import reminders

ONE_CLICK = "One-Click"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _invalid() -> HTMLResponse:
    return _page("This link is not valid", "<p>Nothing was changed.</p>", status=400)


async def confirm_page(request: Request) -> Response:
    token = request.query_params.get("token", "")
    if not token:
        return _invalid()
    action = f"/unsubscribe?token={quote(token)}"
    return _page(
        "Unsubscribe from lifegraph emails",
        "<p>Stop the reminder and daily digest emails? You can turn them on again in the "
        "app's settings.</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="List-Unsubscribe" value="{ONE_CLICK}">'
        '<button type="submit">Unsubscribe</button></form>',
    )


async def unsubscribe(request: Request) -> Response:
    token = request.query_params.get("token", "")
    form = await request.form()
    if form.get("List-Unsubscribe") != ONE_CLICK or not token:
        return _invalid()
    if not await reminders.unsubscribe(request.app.state.services, token):
        return _invalid()
    return _page(
        "You are unsubscribed",
        "<p>lifegraph sends you no more reminder or digest emails.</p>",
    )


unsubscribe_routes: list[BaseRoute] = [
    Route("/unsubscribe", confirm_page, methods=["GET"]),
    Route("/unsubscribe", unsubscribe, methods=["POST"]),
]
