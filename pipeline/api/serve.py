"""``newswatch serve``: run the app on uvicorn after checking where it may listen."""

from __future__ import annotations

import sys

from pipeline.api.auth import check_bind
from pipeline.api.settings import load_api_settings
from pipeline.config import Settings


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Refuse an unprotected public bind, then serve until interrupted."""
    import uvicorn

    from pipeline.api.app import create_app

    api = load_api_settings()
    check_bind(host, api)
    app = create_app(settings, api)
    keys = "API keys required" if api.keys_configured else "no API key (loopback only)"
    print(
        f"newswatch serving {settings.search_backend} search on http://{host}:{port}/ · {keys}",
        file=sys.stderr,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
