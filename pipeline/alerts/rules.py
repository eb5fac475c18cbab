"""Alert rules: the Rule record, validation, and alerts.yaml.

A rule is checked once, when it enters the system (loaded from the file or
added from the CLI): its query must parse with the product's query language,
its channels must be recognisable. A broken rule is refused with the
QueryError's own message and position, so the user can fix the exact spot.

Channels may name environment variables (``${NEWSWATCH_ALERT_EMAIL_URL}``),
so secrets stay out of the file and out of the database: the text is stored
as written and expanded at send time. A channel whose variable is unset is
dropped, with a note, rather than failing the whole rule.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.config import Settings, load_settings
from pipeline.errors import ConfigError, QueryError

MODES = ("immediate", "digest_hourly", "digest_daily")
HEALTH_RULE = "health"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


class RuleError(ConfigError):
    """A rule that cannot be used; the message names the rule and the problem."""


@dataclass(slots=True)
class Rule:
    name: str
    query: str
    channels: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    throttle: int = 0  # minimum seconds between two sends of this rule on one channel
    mode: str = "immediate"
    enabled: bool = True


@dataclass(slots=True)
class HealthConfig:
    """Pipeline health alerts: which channels, and when a feed counts as sick."""

    channels: list[str] = field(default_factory=list)
    enabled: bool = True
    feed_failing_runs: int = 3  # consecutive failed polls before an alert
    silent_factor: float = 4.0  # silent for this many "usual gaps" between new items
    min_silence_hours: float = 24.0  # never call a feed silent before this
    run_failed: bool = True


@dataclass(slots=True)
class AlertsFile:
    rules: list[Rule]
    health: HealthConfig
    notes: list[str] = field(default_factory=list)  # e.g. channels dropped for unset variables
    errors: dict[str, str] = field(default_factory=dict)  # rule name -> problem (lenient load)
    missing: bool = False  # no file at the path: the state's rules are left as they are


# ---------------------------------------------------------------- channels
def expand_channel(channel: str, env: Mapping[str, str] | None = None) -> str | None:
    """Substitute ``${VAR}``; None when a variable is unset or empty (channel dropped)."""
    env = os.environ if env is None else env
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        value = env.get(m.group(1), "")
        if not value:
            missing = True
        return value

    out = _VAR.sub(sub, channel).strip()
    return None if missing or not out else out


def channel_variables(channel: str) -> list[str]:
    return _VAR.findall(channel)


def check_channel(channel: str, settings: Settings | None = None) -> None:
    """Refuse a channel that is neither ``file://`` nor a URL apprise understands,
    a file channel outside the alert files folder, and a channel whose host the
    address guard refuses (:func:`pipeline.alerts.channels.channel_problem`)."""
    from pipeline.alerts.channels import channel_problem
    from pipeline.alerts.state import redact_channel

    if channel.startswith("file://"):
        if not channel.removeprefix("file://").strip():
            raise RuleError(f"channel {channel!r}: a file channel needs a path (file://alerts.log)")
    elif channel_variables(channel):
        return  # checked once expanded, at send time
    else:
        import apprise

        if apprise.Apprise.instantiate(channel) is None:
            scheme = channel.split("://", 1)[0] if "://" in channel else channel
            raise RuleError(
                f"channel {scheme}://...: not a URL apprise knows (see docs/alerts.md for examples)"
            )
    problem = channel_problem(channel, settings or load_settings())
    if problem is not None:
        raise RuleError(f"channel {redact_channel(channel)!r} refused: {problem}")


# ---------------------------------------------------------------- validation
def check_query(query: str) -> None:
    """Parse the query once; raise QueryError (message + position) if it is broken."""
    from pipeline.search.query import parse_query

    parse_query(query)


def validate_rule(rule: Rule) -> Rule:
    """Return the rule if usable; raise RuleError/QueryError that says what to fix."""
    if not _NAME.match(rule.name or ""):
        raise RuleError(
            f"rule name {rule.name!r}: use letters, digits, '-', '_', '.', ':' (at most 100)"
        )
    if rule.name == HEALTH_RULE:
        raise RuleError(f"rule name {HEALTH_RULE!r} is reserved for pipeline health alerts")
    if not rule.query or not rule.query.strip():
        raise RuleError(f"rule {rule.name!r}: the query is empty")
    try:
        check_query(rule.query)
    except QueryError as exc:
        reason = str(exc).removesuffix(f" (at position {exc.position})")
        raise QueryError(
            f"rule {rule.name!r}: invalid query: {reason}", exc.position, rule.query
        ) from None
    if rule.mode not in MODES:
        raise RuleError(f"rule {rule.name!r}: mode {rule.mode!r} is not one of {', '.join(MODES)}")
    if rule.throttle < 0:
        raise RuleError(f"rule {rule.name!r}: throttle must be 0 or more seconds")
    for ch in rule.channels:
        try:
            check_channel(ch)
        except RuleError as exc:
            raise RuleError(f"rule {rule.name!r}: {exc}") from None
    return rule


def _str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise RuleError(f"{what}: expected a list of strings")


def rule_from_mapping(data: Mapping[str, Any], default_channels: list[str]) -> Rule:
    if not isinstance(data, Mapping):
        raise RuleError("each rule must be a mapping with at least name and query")
    name = str(data.get("name", "")).strip()
    known = {"name", "query", "channels", "languages", "sources", "throttle", "mode", "enabled"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RuleError(f"rule {name!r}: unknown key(s) {', '.join(unknown)}")
    throttle = data.get("throttle", 0)
    if not isinstance(throttle, int) or isinstance(throttle, bool):
        raise RuleError(f"rule {name!r}: throttle must be a whole number of seconds")
    channels = data.get("channels")
    return Rule(
        name=name,
        query=str(data.get("query") or "").strip(),
        channels=_str_list(channels, f"rule {name!r} channels")
        if channels is not None
        else list(default_channels),
        languages=_str_list(data.get("languages"), f"rule {name!r} languages"),
        sources=_str_list(data.get("sources"), f"rule {name!r} sources"),
        throttle=throttle,
        mode=str(data.get("mode", "immediate")),
        enabled=bool(data.get("enabled", True)),
    )


def _number(section: Mapping[str, Any], key: str, default: float) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RuleError(f"alerts file: health.{key} must be a number, 0 or more (got {value!r})")
    return float(value)


def parse_alerts_yaml(
    text: str, env: Mapping[str, str] | None = None, strict: bool = True
) -> AlertsFile:
    """alerts.yaml text -> rules + health config. Pure.

    ``strict`` (the CLI's check) raises on the first bad rule. The ingest run
    loads leniently: a rule whose query does not parse is still returned (its
    evaluation then fails and is reported as a failing rule, with a health
    alert), and a rule too broken to store is listed in ``errors``; the other
    rules keep working either way.
    """
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RuleError(f"alerts file is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise RuleError("alerts file: expected a mapping with 'rules:'")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise RuleError("alerts file: 'defaults:' must be a mapping (e.g. channels: [...])")
    default_channels = _str_list(defaults.get("channels"), "defaults.channels")
    rules: list[Rule] = []
    errors: dict[str, str] = {}
    seen: set[str] = set()
    for i, raw in enumerate(data.get("rules") or []):
        try:
            rule = rule_from_mapping(raw, default_channels)
            if rule.name in seen:
                raise RuleError(f"rule {rule.name!r} is defined twice")
            validate_rule(rule)
        except QueryError as exc:
            if strict:
                raise
            errors[rule.name] = str(exc)
        except RuleError as exc:
            if strict:
                raise
            errors[str(raw.get("name") if isinstance(raw, Mapping) else f"#{i + 1}")] = str(exc)
            continue
        seen.add(rule.name)
        rules.append(rule)
    h = data.get("health") or {}
    if not isinstance(h, Mapping):
        raise RuleError("alerts file: 'health:' must be a mapping (e.g. feed_failing_runs: 3)")
    health = HealthConfig(
        channels=_str_list(h.get("channels"), "health.channels")
        if h.get("channels") is not None
        else list(default_channels),
        enabled=bool(h.get("enabled", True)),
        feed_failing_runs=int(_number(h, "feed_failing_runs", 3)),
        silent_factor=_number(h, "silent_factor", 4.0),
        min_silence_hours=_number(h, "min_silence_hours", 24.0),
        run_failed=bool(h.get("run_failed", True)),
    )
    notes = unset_channel_notes(rules, health, env)
    return AlertsFile(rules=rules, health=health, notes=notes, errors=errors)


def unset_channel_notes(
    rules: list[Rule], health: HealthConfig, env: Mapping[str, str] | None = None
) -> list[str]:
    notes = []
    for owner, channels in [(r.name, r.channels) for r in rules] + [(HEALTH_RULE, health.channels)]:
        for ch in channels:
            if channel_variables(ch) and expand_channel(ch, env) is None:
                names = ", ".join(channel_variables(ch))
                notes.append(f"{owner}: channel {ch} dropped ({names} not set)")
    return notes


def load_alerts_file(
    path: Path, env: Mapping[str, str] | None = None, strict: bool = True
) -> AlertsFile:
    """Read alerts.yaml; a missing file means no file rules (not an error)."""
    if not path.is_file():
        return AlertsFile(
            rules=[], health=HealthConfig(), notes=[f"no alerts file at {path}"], missing=True
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: cannot read the alerts file ({exc})") from None
    try:
        return parse_alerts_yaml(text, env, strict=strict)
    except QueryError as exc:
        reason = str(exc).removesuffix(f" (at position {exc.position})")
        raise QueryError(f"{path}: {reason}", exc.position, exc.query) from None
    except RuleError as exc:
        raise RuleError(f"{path}: {exc}") from None
