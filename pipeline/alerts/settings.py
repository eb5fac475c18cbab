"""Settings of the alerts stage (``NEWSWATCH_ALERTS_*``), beside the main Settings.

Kept here so the alerts stage owns its knobs; a bad value is a ConfigError
that names the variable, like the main settings.
"""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.errors import ConfigError

PREFIX = "NEWSWATCH_ALERTS_"


class AlertSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    # Search window = checkpoint - overlap, so an article indexed a little after
    # the rule last ran (but ingested before) is still seen.
    overlap_seconds: float = Field(600.0, ge=0)
    # Outbox retry: wait backoff * 2**(attempts-1), at most max_backoff; give up
    # (state failed) after max_attempts.
    retry_backoff: float = Field(30.0, ge=0)
    retry_max_backoff: float = Field(3600.0, ge=0)
    max_attempts: int = Field(10, ge=1)
    # A delivery left "sending" this long: its sender died; it is sent again.
    sending_lease: float = Field(900.0, gt=0)
    send_timeout: float = Field(20.0, gt=0)


def load_alert_settings(**overrides: object) -> AlertSettings:
    try:
        return AlertSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [
            f"{PREFIX}{str(e['loc'][0]).upper()}: {e['msg']} (got {e.get('input')!r})"
            for e in exc.errors()
        ]
        raise ConfigError("bad setting: " + "; ".join(problems)) from None
