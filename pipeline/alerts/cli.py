"""``newswatch alerts``: manage rules, look at what was sent, push the outbox.

Rules live in state. ``alerts.yaml`` is synced into state by every ingest run
and by ``alerts list``; ``alerts add`` writes to state only (and says so), so
a rule added here survives edits of the file. As in the main CLI, ``--json``
output is the only thing on stdout and errors are one line with exit code 2.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline.alerts import state
from pipeline.alerts.rules import MODES, Rule, load_alerts_file, validate_rule
from pipeline.config import Settings, load_settings
from pipeline.errors import NewswatchError, QueryError

alerts_app = typer.Typer(help="Keyword alerts: rules, history, delivery.", no_args_is_help=True)
err = Console(stderr=True)


def _fail(exc: Exception) -> None:
    msg = str(exc)
    if isinstance(exc, QueryError) and exc.position is not None and exc.query:
        pointer = " " * exc.position + "^"
        msg = f"{msg}\n  {exc.query}\n  {pointer}"
    err.print(f"[bold red]error:[/] {escape(msg)}")
    raise typer.Exit(2)


def _open() -> tuple[Settings, Any]:
    from pipeline.store import open_store

    settings = load_settings()
    return settings, open_store(settings)


def _sync(settings: Settings, store: Any) -> list[str]:
    alerts_file = load_alerts_file(settings.alerts_file, strict=False)
    changes = state.sync_rules(store, alerts_file, state.utcnow())
    where = escape(settings.alerts_file.as_posix())
    for problem in alerts_file.errors.values():
        err.print(f"[yellow]warning:[/] {where}: {escape(problem)}")
    return changes + alerts_file.notes


def _rule_record(row: Any) -> dict[str, Any]:
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
    mode: Annotated[str, typer.Option(help=f"One of: {', '.join(MODES)}.")] = "immediate",
    backfill: Annotated[
        bool, typer.Option("--backfill", help="Also alert on articles already indexed.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a rule of that name.")
    ] = False,
) -> None:
    """Add a rule to state (not to alerts.yaml). It starts now unless --backfill."""
    try:
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
    table = Table(title="Alert rules")
    for col in ("name", "on", "mode", "origin", "query", "status"):
        table.add_column(col, overflow="fold")
    for r in rows:
        status = f"[red]failing: {escape(r.last_error or '')}[/]" if r.failing_since else "ok"
        table.add_row(
            escape(r.name),
            "yes" if r.enabled else "no",
            r.mode,
            r.origin,
            escape(" ".join(r.query.split())[:120]),
            status,
        )
    err.print(table)


@alerts_app.command("show")
def show(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """One rule, with its recent alerts."""
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
    for key, value in record.items():
        if key != "recent_alerts":
            err.print(f"[bold]{key}[/]: {escape(str(value))}")
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
