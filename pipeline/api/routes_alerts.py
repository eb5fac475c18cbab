"""``/api/alerts`` and ``/api/rules``: alert history and rule management.

Placeholder router until the alerts package lands; see routes in this module.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["alerts"])
