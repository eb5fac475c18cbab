"""``newswatch serve``: run the app on uvicorn after checking where it may listen."""

from __future__ import annotations

import errno
import socket
import sys

from pipeline.api.auth import check_bind
from pipeline.api.settings import load_api_settings
from pipeline.config import Settings
from pipeline.errors import NewswatchError


def check_port_free(host: str, port: int) -> None:
    """Fail with a plain sentence when the address is taken, before saying "serving".

    Binds the way uvicorn will (SO_REUSEADDR), then lets go; a port taken in
    between is still reported by uvicorn.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise NewswatchError(
                    f"port {port} on {host} is already in use (another newswatch serve?): "
                    "stop that server or choose another port with --port"
                ) from None
            raise NewswatchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Refuse an unprotected public bind, then serve until interrupted."""
    import uvicorn

    from pipeline.api.app import create_app

    api = load_api_settings()
    check_bind(host, api)
    check_port_free(host, port)
    app = create_app(settings, api)
    keys = "API keys required" if api.keys_configured else "no API key (loopback only)"
    print(
        f"newswatch serving {settings.search_backend} search on http://{host}:{port}/ · {keys}",
        file=sys.stderr,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
