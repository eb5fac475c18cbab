"""The FastAPI app factory: routes, error bodies, security headers, static files.

``create_app(settings)`` is all a server, a test or a benchmark needs. The
store and the search backends are opened in the lifespan and closed after,
so one process holds one set of connections however many requests run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.api import (
    routes_alerts,
    routes_articles,
    routes_export,
    routes_health,
    routes_page,
    routes_search,
)
from pipeline.api.resources import Resources
from pipeline.api.security import SecurityHeaders
from pipeline.api.settings import ApiSettings, load_api_settings
from pipeline.config import Settings
from pipeline.errors import BackendUnavailable, NewswatchError, NotFound, QueryError

DESCRIPTION = """Search Libya's news coverage ingested by newswatch.

Send an API key as `Authorization: Bearer KEY` or `X-API-Key: KEY` when the
server has keys configured; `/api/health` needs none. Errors are
`{"detail": "...", "position": N?}`; a query that does not parse is a 422
whose `position` is the 0-based offset where it breaks.
"""


def _error(status: int, detail: str, **extra: Any) -> JSONResponse:
    body = {"detail": detail, **{k: v for k, v in extra.items() if v is not None}}
    return JSONResponse(body, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(QueryError)
    async def query_error(_: Request, exc: QueryError) -> JSONResponse:
        return _error(422, str(exc), position=exc.position, query=exc.query or None)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(BackendUnavailable)
    async def unavailable(_: Request, exc: BackendUnavailable) -> JSONResponse:
        return _error(503, f"search backend unavailable: {exc}")

    @app.exception_handler(routes_alerts.RuleConflict)
    async def conflict(_: Request, exc: NewswatchError) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(NewswatchError)
    async def other(_: Request, exc: NewswatchError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path"))
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return _error(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        resp = _error(exc.status_code, str(exc.detail))
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp


def create_app(settings: Settings, api_settings: ApiSettings | None = None) -> FastAPI:
    """The whole HTTP surface for these settings (nothing opened until start-up)."""
    api = api_settings or load_api_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.resources = Resources.open(settings, api)
        try:
            yield
        finally:
            app.state.resources.close()

    app = FastAPI(
        title="newswatch",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load scripts from a CDN: not under this CSP
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.api_settings = api
    app.state.settings = settings
    _install_error_handlers(app)
    for module in (routes_search, routes_articles, routes_export, routes_alerts, routes_health):
        app.include_router(module.router)
    from pipeline.api import routes_incidents

    app.include_router(routes_incidents.router)
    app.include_router(routes_page.router)
    app.mount("/static", StaticFiles(directory=routes_page.STATIC_DIR), name="static")
    app.add_middleware(SecurityHeaders)
    return app
