"""Alembic, driven from code: the schema is always migrated before use."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, attempts: int = 5) -> None:
    """Migrate to head. Processes that start together on a new database (parallel
    Airflow tasks, two ingests) race to create the tables; the loser's attempt
    fails, and its retry finds the schema current and does nothing."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == attempts:
                raise
            time.sleep(0.2 * attempt)
