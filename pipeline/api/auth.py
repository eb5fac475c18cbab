"""API keys: who may read, who may change rules, and where the server may listen.

Keys are compared as sha256 digests in constant time. With no key
configured the API is open, which is only safe on a loopback address: the
server refuses to bind anywhere else (:func:`check_bind`). Health stays open
so a load balancer can probe it without a secret.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Literal

from fastapi import HTTPException, Request

from pipeline.api.settings import ApiSettings, hash_key
from pipeline.errors import ConfigError

Role = Literal["read", "admin"]
UNAUTHORIZED = "missing or wrong API key: send it as 'Authorization: Bearer KEY' or 'X-API-Key'"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'; False for 0.0.0.0 and anything else."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api: ApiSettings) -> None:
    """Refuse a non-loopback bind when no key protects the API."""
    if api.keys_configured or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to listen on {host}: no API key is configured, so anyone who can reach "
        "that address could read everything. Set NEWSWATCH_API_READ_KEYS (and "
        "NEWSWATCH_API_ADMIN_KEYS for rule changes), or listen on 127.0.0.1."
    )


def presented_key(request: Request) -> str | None:
    """The key from ``Authorization: Bearer`` or ``X-API-Key``, if any."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def _matches(digest: str, stored: list[str]) -> bool:
    found = False
    for candidate in stored:  # no early exit: every key costs the same time
        found |= hmac.compare_digest(digest, candidate)
    return found


def role_of(request: Request, api: ApiSettings) -> Role | None:
    """The strongest role the request's key grants (admin implies read)."""
    if not api.keys_configured:
        return "admin"
    key = presented_key(request)
    if key is None:
        return None
    digest = hash_key(key)
    if _matches(digest, api.api_admin_keys):
        return "admin"
    if _matches(digest, api.api_read_keys):
        return "read"
    return None


def require(request: Request, needed: Role) -> None:
    """401 unless the key grants ``needed``; 403 when a read key asks for admin."""
    api: ApiSettings = request.app.state.api_settings
    role = role_of(request, api)
    if role is None:
        raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    if needed == "admin" and role != "admin":
        raise HTTPException(403, "this needs an admin API key (NEWSWATCH_API_ADMIN_KEYS)")


def read_access(request: Request) -> None:
    """FastAPI dependency for read routes."""
    require(request, "read")


def admin_access(request: Request) -> None:
    """FastAPI dependency for routes that change rules."""
    require(request, "admin")
