"""The try-it page at ``/``: plain files from the package (no build step, no CDN) whose script calls
only the public v1 API, so what the page does any client can do."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

PAGE_DIR = Path(__file__).parent / "page"
ASSETS_URL = "/page"  # also open without an API key (auth.OPEN_PREFIXES)

# The page may load and call only its own origin: it works offline, and a photo's preview or
# description can never make the browser fetch from, or send to, anywhere else.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def install_page(app: FastAPI) -> None:
    async def page() -> FileResponse:
        return FileResponse(PAGE_DIR / "index.html", headers=PAGE_HEADERS)

    app.add_api_route("/", page, methods=["GET"], include_in_schema=False)
    app.mount(ASSETS_URL, StaticFiles(directory=PAGE_DIR / "static"), name="page")
