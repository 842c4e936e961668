"""Security headers sent with every HTTP response, errors and the ``/schema`` page included."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

# One policy for the whole origin: the API, `/schema` and the dashboard under `/ui/` share it,
# so a page added later cannot quietly widen what another may load. `data:` images are the
# icons Swagger UI's stylesheet inlines. The `/schema` page needs nothing looser (checked in
# Chromium by tests/e2e/test_schema_page_browser.py): its start-up code is a file, and React
# sets Swagger UI's inline styles through the CSSOM, which `style-src` does not govern.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)

SAFE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers older than `frame-ancestors`
    "Referrer-Policy": "no-referrer",
}


async def add_safe_headers(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: put :data:`SAFE_HEADERS` on every response as it starts.

    The values replace any a handler set, so that one policy holds everywhere.
    """
    if message["type"] == "http.response.start":
        headers = MutableScopeHeaders.from_message(message)
        for name, value in SAFE_HEADERS.items():
            headers[name] = value
