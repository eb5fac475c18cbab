"""Settings of the HTTP layer: API keys and the backend pool.

Kept beside the API rather than in :mod:`pipeline.config` because only
``serve`` reads them; they use the same ``NEWSWATCH_`` prefix and the same
settings file, so one ``.env`` configures both.

Keys are comma-separated. An entry ``sha256:<64 hex>`` is a stored hash; any
other entry is a plain key, hashed at load and never kept in memory as text.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipeline.config import ENV_PREFIX
from pipeline.errors import ConfigError

_HASHED = re.compile(r"^sha256:([0-9a-fA-F]{64})$")


def hash_key(key: str) -> str:
    """The stored form of a key: lowercase hex sha256 of its UTF-8 bytes."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _to_hashes(value: object) -> object:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        out = []
        for item in value:
            m = _HASHED.match(str(item))
            out.append(m.group(1).lower() if m else hash_key(str(item)))
        return out
    return value


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # sha256 hex digests (plain keys are hashed by the validator)
    api_read_keys: Annotated[list[str], NoDecode] = []
    api_admin_keys: Annotated[list[str], NoDecode] = []
    # search backends kept open for requests (SQLite: one connection each)
    api_backend_pool: int = Field(4, ge=1, le=64)
    api_max_page_size: int = Field(100, ge=1, le=1000)

    @field_validator("api_read_keys", "api_admin_keys", mode="before")
    @classmethod
    def _hash(cls, value: object) -> object:
        return _to_hashes(value)

    @property
    def keys_configured(self) -> bool:
        return bool(self.api_read_keys or self.api_admin_keys)


def load_api_settings(**overrides: object) -> ApiSettings:
    """Read API settings; a bad value is a ConfigError naming the variable."""
    env_file = os.environ.get(f"{ENV_PREFIX}SETTINGS_FILE", ".env")
    try:
        return ApiSettings(_env_file=env_file if Path(env_file).is_file() else None, **overrides)
    except ValidationError as exc:
        problems = [
            f"{ENV_PREFIX}{str(e['loc'][0]).upper() if e['loc'] else ''}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ConfigError("bad setting: " + "; ".join(problems)) from None
