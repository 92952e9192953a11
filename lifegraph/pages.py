"""What the app's own browser pages (the dashboard, GraphiQL) share: where their files are,
their types, and the headers that lock each page to its own origin's scripts."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"

HTML = "text/html; charset=utf-8"
JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"

POLICY = (
    "default-src 'self'",
    "connect-src 'self' ws: wss:",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)


def page_headers(*directives: str) -> dict[str, str]:
    """A page's headers: the shared Content-Security-Policy with ``directives`` added, no
    type sniffing, no referrer, and revalidated on every load (the files change with the
    server, not with a build)."""
    return {
        "Content-Security-Policy": "; ".join((*POLICY, *directives)),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
