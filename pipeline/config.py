"""Settings: every default in one place, read once, passed down.

Values come from ``NEWSWATCH_*`` environment variables and, optionally, a
dotenv-style settings file (``NEWSWATCH_SETTINGS_FILE``, default ``.env`` in
the working directory). A bad value stops start-up with a message that names
the variable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipeline.errors import ConfigError

ENV_PREFIX = "NEWSWATCH_"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        validate_default=True,
    )

    # --- where things live
    data_dir: Path = Path("./data")
    database_url: str | None = None  # default: SQLite file in data_dir
    feeds_file: Path = Path("feeds.yaml")
    alerts_file: Path = Path("alerts.yaml")
    alert_files_dir: Path | None = None  # where file:// channels may write; default data_dir

    # --- search
    search_backend: Literal["tantivy", "sqlite", "elasticsearch"] = "tantivy"
    search_timeout: float = Field(10.0, gt=0)  # seconds a search may take ("too broad")
    index_lock_timeout: float = Field(120.0, gt=0)  # seconds a writer waits for another
    elasticsearch_url: Annotated[list[str], NoDecode] = ["http://127.0.0.1:9200"]
    elasticsearch_index: str = "newswatch"
    elasticsearch_api_key: str | None = None
    elasticsearch_username: str | None = None
    elasticsearch_password: str | None = None
    elasticsearch_ca_certs: Path | None = None
    elasticsearch_timeout: float = Field(10.0, gt=0)
    # Index layout for new versioned indices: 1 shard, 0-1 replicas (as many as the
    # nodes allow) fits one node; a cluster sets e.g. 3 shards and 1 replica.
    elasticsearch_shards: int = Field(1, ge=1, le=1024)
    elasticsearch_replicas: int | None = Field(None, ge=0, le=16)

    # --- fetching
    allow_hosts: Annotated[list[str], NoDecode] = []
    host_delay: float = Field(1.0, ge=0)
    fetch_concurrency: int = Field(4, ge=1, le=256)
    per_host_concurrency: int = Field(2, ge=1, le=64)
    user_agent: str = "newswatch/0.1 (news monitoring; respects robots.txt)"
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(20.0, gt=0)
    # The whole request, headers and body: a server that drips one byte every
    # few seconds never trips the read timeout.
    fetch_deadline: float = Field(60.0, gt=0)
    max_page_bytes: int = Field(5_000_000, ge=1024)
    max_feed_bytes: int = Field(10_000_000, ge=1024)
    max_redirects: int = Field(5, ge=0, le=30)
    retries: int = Field(2, ge=0, le=10)
    retry_backoff: float = Field(1.0, ge=0)
    respect_robots: bool = True

    # --- extraction and dedup
    min_text_chars: int = Field(200, ge=0)
    # trafilatura without (fast) or with (balanced) its fallback comparison;
    # chosen by benchmarks/extract_quality.py, see pipeline/extract.py.
    extraction_mode: Literal["fast", "balanced"] = "fast"
    near_duplicate_threshold: float = Field(0.8, gt=0, le=1)
    max_attempts: int = Field(3, ge=1)  # per item, before "failed for good"
    # How long a fetch may hold an item before another process may take it over
    # (a run that dies on this host releases its items at the next run anyway).
    item_lease: float = Field(3600.0, gt=0)

    # --- scheduling
    watch_every: str = "10m"

    @field_validator("watch_every")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*[smhd]?\s*", value):
            raise ValueError("use a duration like 90s, 10m or 1h")
        return value.strip()

    @field_validator("elasticsearch_url", "allow_hosts", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("allow_hosts")
    @classmethod
    def _allow_entries(cls, value: list[str]) -> list[str]:
        """Refuse entries the guard could not use, rather than ignore them silently."""
        from pipeline.netguard import parse_allow_entry

        for entry in value:
            parse_allow_entry(entry)  # ValueError names the entry
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'newswatch.db').as_posix()}"

    @property
    def is_sqlite_state(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def search_index_dir(self) -> Path:
        """Where the embedded Tantivy index lives: beside the state, in the data dir."""
        return self.data_dir / "search-index"

    @property
    def search_db_path(self) -> Path:
        """Where the embedded FTS5 index lives: the state file when state is SQLite."""
        url = self.resolved_database_url
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        return self.data_dir / "search.db"


def load_settings(**overrides: object) -> Settings:
    """Read settings; turn validation errors into one ConfigError naming the variables."""
    env_file = os.environ.get(f"{ENV_PREFIX}SETTINGS_FILE", ".env")
    try:
        settings = Settings(_env_file=env_file if Path(env_file).is_file() else None, **overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ENV_PREFIX + str(err["loc"][0]).upper() if err["loc"] else ENV_PREFIX
            value = err.get("input")
            problems.append(f"{name}: {err['msg']} (got {value!r})")
        raise ConfigError("bad setting: " + "; ".join(problems)) from None
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"bad setting: {ENV_PREFIX}DATA_DIR: cannot create {settings.data_dir} "
            f"({exc.strerror or exc})"
        ) from None
    return settings
