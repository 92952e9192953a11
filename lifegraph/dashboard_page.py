"""The live dashboard page at /dashboard: static HTML, CSS and JavaScript, no build step.

The page signs in with the ``Login`` mutation, follows ``DashboardUpdates`` over
graphql-transport-ws, and renews its session with ``RefreshSession`` before the access
token expires (the refresh token lives in the tab's ``sessionStorage``, so a reload keeps
it signed in; ``session.js``, shared with GraphiQL); all of it runs in the browser, from the
files in ``static/``.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from lifegraph.pages import CSS, HTML, JS, STATIC, page_headers

ASSETS = {"session.js": JS, "dashboard.js": JS, "dashboard.css": CSS}
HEADERS = page_headers()


async def dashboard_page(request: Request) -> Response:
    return FileResponse(STATIC / "dashboard.html", media_type=HTML, headers=HEADERS)


async def dashboard_asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        raise HTTPException(404)
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=HEADERS)


dashboard_routes: list[BaseRoute] = [
    Route("/dashboard", dashboard_page, methods=["GET"]),
    Route("/dashboard/static/{name}", dashboard_asset, methods=["GET"]),
]
