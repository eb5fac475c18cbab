"""``newswatch alerts``: manage rules, look at what was sent, push the outbox.

Rules live in state. ``alerts.yaml`` is synced into state by every ingest run
and by ``alerts list``; ``alerts add`` writes to state only (and says so), so
a rule added here survives edits of the file. As in the main CLI, ``--json``
output is the only thing on stdout and errors are one line with exit code 2.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.alerts.rules import MODES
from pipeline.cli_help import PlainHelpGroup, human, lines_of
from pipeline.errors import NewswatchError, QueryError

if TYPE_CHECKING:
    from pipeline.config import Settings

# State (SQLAlchemy, Alembic), rules and search are imported inside each
# command: `newswatch --help` and the other commands must not pay for them.

alerts_app = typer.Typer(
    help="Keyword alerts: rules, history, delivery.",
    no_args_is_help=True,
    cls=PlainHelpGroup,
    add_completion=False,
)
err = Console(stderr=True)
Mode = Literal[MODES]  # type: ignore[valid-type]


def _fail(exc: Exception) -> None:
    msg = str(exc)
    if isinstance(exc, QueryError) and exc.position is not None and exc.query:
        pointer = " " * exc.position + "^"
        msg = f"{msg}\n  {exc.query}\n  {pointer}"
    err.print(f"[bold red]error:[/] {escape(msg)}")
    raise typer.Exit(2)


def _open() -> tuple[Settings, Any]:
    from pipeline.config import load_settings
    from pipeline.store import open_store

    settings = load_settings()
    return settings, open_store(settings)


def _sync(settings: Settings, store: Any) -> list[str]:
    """Sync alerts.yaml into state; return what changed.

    Channels whose ${VARIABLE} is unset are not reported here (every command
    would repeat it): ``alerts show`` marks them "not configured".
    """
    from pipeline.alerts import state
    from pipeline.alerts.rules import load_alerts_file

    alerts_file = load_alerts_file(settings.alerts_file, strict=False)
    changes = state.sync_rules(store, alerts_file, state.utcnow())
    where = escape(settings.alerts_file.as_posix())
    for problem in alerts_file.errors.values():
        err.print(f"[yellow]warning:[/] {where}: {escape(problem)}")
    return changes


def channel_label(channel: str) -> str:
    """A channel as written (passwords hidden), marked when its variables are unset."""
    from pipeline.alerts import state
    from pipeline.alerts.rules import channel_variables, expand_channel

    shown = state.redact_channel(channel)
    if expand_channel(channel) is None:
        names = ", ".join(channel_variables(channel))
        return f"{shown} (not configured: {names} not set)"
    return shown


def _rule_record(row: Any) -> dict[str, Any]:
    from pipeline.alerts import state

    return {
        "name": row.name,
        "query": row.query,
        "languages": list(row.languages or []),
        "sources": list(row.sources or []),
        "channels": [state.redact_channel(c) for c in row.channels or []],
        "throttle": row.throttle_seconds,
        "mode": row.mode,
        "enabled": row.enabled,
        "origin": row.origin,
        "checkpoint": row.checkpoint.isoformat() if row.checkpoint else None,
        "evaluated_at": row.evaluated_at.isoformat() if row.evaluated_at else None,
        "last_error": row.last_error,
        "failing_since": row.failing_since.isoformat() if row.failing_since else None,
    }


@alerts_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Rule name (letters, digits, - _ . :).")],
    query: Annotated[str, typer.Option("--query", "-q", help="Query in the search language.")],
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", "-c", help="apprise URL or file://PATH; repeat for more."),
    ] = None,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Only these languages.")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only these feeds.")] = None,
    throttle: Annotated[int, typer.Option(help="Min seconds between two sends.")] = 0,
    mode: Annotated[Mode, typer.Option(help="When to send.")] = "immediate",
    backfill: Annotated[
        bool, typer.Option("--backfill", help="Also alert on articles already indexed.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a rule of that name.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Save even if a place or name is not in the gazetteer."),
    ] = False,
) -> None:
    """Add a rule to state (not to alerts.yaml). It starts now unless --backfill."""
    from pipeline.alerts import state
    from pipeline.alerts.rules import Rule, load_alerts_file, validate_rule
    from pipeline.search.fieldcheck import check_query_fields

    try:
        validate_rule(Rule(name=name, query=query, mode=mode))  # syntax first, then values
        warnings = check_query_fields(query)
        for w in warnings:
            err.print(f"[yellow]warning:[/] {escape(w)}")
        if warnings and not force:
            raise NewswatchError(
                "rule not saved: the query names something the gazetteer does not know, "
                "so it would probably never fire (fix it, or add --force to save it anyway)"
            )
        settings, store = _open()
        try:
            channels = list(channel or [])
            if not channels:
                channels = load_alerts_file(settings.alerts_file, strict=False).health.channels
            rule = validate_rule(
                Rule(
                    name=name,
                    query=query,
                    channels=channels,
                    languages=list(lang or []),
                    sources=list(source or []),
                    throttle=throttle,
                    mode=mode,
                )
            )
            state.add_rule(store, rule, origin="cli", backfill=backfill, replace=replace)
        finally:
            store.close()
    except NewswatchError as exc:
        _fail(exc)
    start = "all indexed articles (backfill)" if backfill else "articles indexed from now on"
    err.print(
        f"Rule [bold]{escape(name)}[/] saved in state ({escape(settings.resolved_database_url)}), "
        f"not in {escape(settings.alerts_file.as_posix())}. It will alert on {start}, "
        f"to {len(rule.channels)} channel(s)."
    )


@alerts_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """List rules (after syncing alerts.yaml into state)."""
    from rich.table import Table

    from pipeline.alerts import state

    try:
        settings, store = _open()
        try:
            notes = _sync(settings, store)
            rows = state.list_rules(store, kind="query")
        finally:
            store.close()
    except NewswatchError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps([_rule_record(r) for r in rows], ensure_ascii=False))
        return
    for note in notes:
        err.print(f"[dim]{escape(note)}[/]")
    # Long queries and errors are cut between words with "…" to two lines of their
    # column; `alerts show NAME` prints them whole.
    wide = err.width >= 100  # the origin column only where there is room for it
    names = [r.name for r in rows] or ["name"]
    name_w = min(16 if not wide else 24, max(4, *(len(n) for n in names)))
    mode_w = max(4, *(len(r.mode) for r in rows)) if rows else 4
    status_w = 14 if any(r.failing_since for r in rows) else 6
    ncols = 6 if wide else 5
    fixed = name_w + 3 + mode_w + status_w + (6 if wide else 0) + 3 * ncols + 1
    query_w = max(16, err.width - fixed)
    table = Table(title="Alert rules")
    table.add_column("name", width=name_w, max_width=name_w)
    table.add_column("on", no_wrap=True)
    table.add_column("mode", no_wrap=True)
    if wide:
        table.add_column("origin", no_wrap=True)
    table.add_column("query", width=query_w, max_width=query_w)
    table.add_column("status", width=status_w, max_width=status_w)
    for r in rows:
        problem = lines_of(f"failing: {r.last_error or ''}", status_w)
        status = f"[red]{escape(problem)}[/]" if r.failing_since else "ok"
        cells = [escape(lines_of(r.name, name_w)), "yes" if r.enabled else "no", r.mode]
        if wide:
            cells.append(r.origin)
        cells += [escape(lines_of(r.query, query_w)), status]
        table.add_row(*cells)
    err.print(table)


@alerts_app.command("show")
def show(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """One rule, with its recent alerts."""
    from pipeline.alerts import state

    try:
        _, store = _open()
        try:
            row = state.get_rule(store, name)
            recent = state.history(store, rule=name, limit=10)
        finally:
            store.close()
    except NewswatchError as exc:
        _fail(exc)
    record = {**_rule_record(row), "recent_alerts": recent}
    if as_json:
        print(json.dumps(record, ensure_ascii=False))
        return
    shown = dict(record)
    shown["channels"] = [channel_label(c) for c in row.channels or []]
    shown["throttle"] = f"{record['throttle']} s" if record["throttle"] else "none"
    for key, value in shown.items():
        if key == "recent_alerts":
            continue
        if key == "channels" and value:
            err.print("[bold]channels[/]:")
            for c in value:
                err.print(f"  {escape(c)}")
            continue
        err.print(f"[bold]{key.replace('_', ' ')}[/]: {escape(human(value))}")
    err.print(f"[bold]recent alerts[/]: {len(recent) or 'none'}")
    for a in recent:
        states = ", ".join(d["state"] for d in a["deliveries"]) or "no channel"
        err.print(f"  {a['created_at'][:19]}  {escape(a['title'])}  [{states}]")


@alerts_app.command("test")
def test(
    name: Annotated[str | None, typer.Argument(help="A rule in state.")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Or a query.")] = None,
    days: Annotated[float, typer.Option(help="Look at articles ingested this recently.")] = 7,
    limit: Annotated[int, typer.Option(help="At most this many hits.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Show which recent articles a rule would match. Sends nothing."""
    from pipeline.alerts import state
    from pipeline.alerts.rules import Rule, validate_rule
    from pipeline.search.base import SearchRequest, open_backend

    try:
        settings, store = _open()
        try:
            if name:
                _sync(settings, store)
                rule = state.rule_from_row(state.get_rule(store, name))
            elif query:
                rule = Rule(name="test", query=query)
            else:
                raise NewswatchError("give a rule name or --query")
        finally:
            store.close()
        validate_rule(Rule(name="test", query=rule.query))
        backend = open_backend(settings)
        try:
            result = backend.search(
                SearchRequest(
                    query=rule.query,
                    langs=rule.languages,
                    sources=rule.sources,
                    ingested_since=state.utcnow() - timedelta(days=days),
                    sort="date",
                    limit=limit,
                    collapse=True,
                )
            )
        finally:
            backend.close()
    except NewswatchError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(result.record(), ensure_ascii=False))
        return
    err.print(f"{result.total} article(s) would match (one line per story; nothing was sent):")
    for h in result.hits:
        when = h.published.date().isoformat() if h.published else "????-??-??"
        err.print(f"  {when}  {escape(h.source)}  {escape(h.title)}")


def _toggle(name: str, enabled: bool) -> None:
    from pipeline.alerts import state

    try:
        _, store = _open()
        try:
            state.set_enabled(store, name, enabled)
        finally:
            store.close()
    except NewswatchError as exc:
        _fail(exc)
    err.print(f"Rule {escape(name)} {'enabled' if enabled else 'disabled'}.")


@alerts_app.command("disable")
def disable(name: str) -> None:
    """Stop evaluating a rule (its history stays)."""
    _toggle(name, False)


@alerts_app.command("enable")
def enable(name: str) -> None:
    """Evaluate a disabled rule again (from its old checkpoint)."""
    _toggle(name, True)


@alerts_app.command("history")
def history(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    rule: Annotated[str | None, typer.Option(help="Only this rule.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many alerts.")] = 100,
) -> None:
    """Alerts raised, newest first, with the state of each delivery."""
    from rich.table import Table

    from pipeline.alerts import state

    try:
        _, store = _open()
        try:
            records = state.history(store, rule=rule, limit=limit)
        finally:
            store.close()
    except NewswatchError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(records, ensure_ascii=False))
        return
    table = Table(title="Alerts")
    for col in ("created", "rule", "title", "more", "deliveries"):
        table.add_column(col, overflow="fold")
    for a in records:
        table.add_row(
            (a["created_at"] or "")[:19],
            escape(a["rule"]),
            escape(a["title"]),
            str(a["more_reports"] or ""),
            escape(", ".join(f"{_scheme(d['channel'])}:{d['state']}" for d in a["deliveries"])),
        )
    err.print(table)


def _scheme(channel: str) -> str:
    return channel.split("://", 1)[0]


@alerts_app.command("deliver")
def deliver(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Give failed deliveries another round.")
    ] = False,
) -> None:
    """Send what is due in the outbox now (ingest runs do this too)."""
    from pipeline.alerts import state
    from pipeline.alerts.outbox import deliver_due
    from pipeline.alerts.settings import load_alert_settings

    try:
        settings, store = _open()
        try:
            if retry_failed:
                state.retry_failed(store)
            report = deliver_due(store, settings.data_dir, load_alert_settings())
            counts = state.delivery_counts(store)
        finally:
            store.close()
    except NewswatchError as exc:
        _fail(exc)
    record = {
        "delivered": report.sent,
        "messages": report.messages,
        "pending_retry": report.retrying,
        "failed": report.failed,
        "postponed": report.postponed,
        "released_stale": report.released,
        "errors": report.errors,
        "outbox": counts,
    }
    if as_json:
        print(json.dumps(record, ensure_ascii=False))
        return
    err.print(
        f"delivered {report.sent} ({report.messages} message(s)), "
        f"{report.retrying} will be retried, {report.failed} failed for good; outbox: {counts}"
    )
    for e in report.errors:
        err.print(f"[red]{escape(e['rule'])} -> {escape(e['channel'])}: {escape(e['error'])}[/]")
