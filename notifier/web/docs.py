"""``/docs`` (Swagger UI) and ``/redoc``: for logged-in users, or anyone when
``NOTIFIER_PUBLIC_DOCS`` is true. ``/openapi.json`` stays public (CONTRACT.md).

The viewers come from their CDN and start with an inline script; their page's policy
allows those sources and that script (by hash), and inline styles, which both viewers
inject as they draw. Nothing else.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from notifier.web.headers import inline_hashes, policy
from notifier.web.state import State
from notifier.web.ui.session import page_user

router = APIRouter(include_in_schema=False)
CDN = "https://cdn.jsdelivr.net"
OPENAPI = "/openapi.json"


def _reader(request: Request, state: State) -> None:
    if not state.settings.public_docs:
        page_user(request, state)  # redirects to the login page when nobody is logged in


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    html = bytes(page.body).decode()
    scripts = inline_hashes(html, "script")
    page.headers["Content-Security-Policy"] = policy(
        script_src=f"{CDN} {scripts}", style_src=f"'unsafe-inline' {CDN} https://fonts.googleapis.com",
        font_src="https://fonts.gstatic.com", img_src="https://fastapi.tiangolo.com https://cdn.redoc.ly",
        worker_src="blob:",
    )  # fmt: skip
    return page


@router.get("/docs", response_class=HTMLResponse)
def swagger(request: Request, state: State) -> HTMLResponse:
    _reader(request, state)
    return _with_policy(get_swagger_ui_html(openapi_url=OPENAPI, title="notifier API"))


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request, state: State) -> HTMLResponse:
    _reader(request, state)
    return _with_policy(get_redoc_html(openapi_url=OPENAPI, title="notifier API"))
