"""The web console: server-rendered pages for auditors and admins, beside the API.

Each page calls the same registry answers as the API and the CLI and renders them; the
roles are the API's, checked by the server on every request.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.console import actions, audit, hooks, pages
from api.console.web import failure_page, is_page_request

__all__ = ["failure_page", "install", "is_page_request"]


def install(app: FastAPI) -> None:
    """Serve the console's pages at `/` and its stylesheet and script at `/static`."""
    for router in (actions.router, pages.router, audit.router, hooks.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
