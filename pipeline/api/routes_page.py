"""The page: one HTML shell for every page path, plus its static files.

The shell and assets hold no data (everything comes from ``/api``), so they
are served without a key; the page asks for a key when the API answers 401.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_PATHS = ("/", "/rules", "/feeds", "/incidents")

router = APIRouter(include_in_schema=False)


def _shell() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")


for _path in PAGE_PATHS:
    router.add_api_route(_path, _shell, methods=["GET"], include_in_schema=False)


@router.get("/articles/{article_id}", include_in_schema=False)
def article_page(article_id: str) -> FileResponse:
    return _shell()


@router.get("/incidents/{incident_id}", include_in_schema=False)
def incident_page(incident_id: str) -> FileResponse:
    return _shell()
