"""The ``newswatch`` command.

Human output (progress bars, tables) goes to stderr; ``--json`` output is the
only thing on stdout, so it can be piped into other tools. Every user-facing
error is a NewswatchError: printed as one line, exit code 2, no traceback.
"""

from __future__ import annotations

import html
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline.alerts.cli import alerts_app
from pipeline.config import Settings, load_settings
from pipeline.errors import NewswatchError, NotFound

app = typer.Typer(
    name="newswatch",
    help="Watch Libya's news: poll feeds, extract articles, tag who/what/where, search, alert.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
feeds_app = typer.Typer(help="The configured feeds and their health.", invoke_without_command=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(alerts_app, name="alerts")

err = Console(stderr=True)
out = Console()


def _settings(**overrides: Any) -> Settings:
    return load_settings(**overrides)


def _fail(exc: Exception, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(str(exc))}")
    raise typer.Exit(code)


def _parse_date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (use YYYY-MM-DD)", param_hint=name
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _parse_every(value: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
    if not m:
        raise typer.BadParameter(f"{value!r}: use e.g. 90s, 10m, 1h", param_hint="--every")
    n = float(m.group(1))
    return n * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


# ---------------------------------------------------------------- ingest
def print_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"Run {summary['run_id']}", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    f = summary["feeds"]
    table.add_row(
        "feeds ok / failed / not modified", f"{f['ok']} / {f['failed']} / {f['not_modified']}"
    )
    if f.get("not_due"):
        table.add_row("feeds not due (interval)", str(f["not_due"]))
    for key in ("items_new", "pages_fetched", "extracted", "duplicates", "enriched", "indexed"):
        table.add_row(key.replace("_", " "), str(summary.get(key, 0)))
    table.add_row("pending index", str(summary["pending_index"]))
    for key in sorted(summary):
        if key == "alerts" or key.startswith("alerts_"):
            table.add_row(key.replace("_", " "), str(summary[key]))
    for reason, n in summary["failed"].items():
        table.add_row(f"[red]failed: {escape(reason)}[/]", str(n))
    secs = ", ".join(f"{k} {v:.1f}s" for k, v in summary["seconds"].items())
    table.add_row("seconds", secs)
    err.print(table)
    if summary["failures"]:
        fails = Table(title="Failures", show_lines=False)
        for col in ("stage", "reason", "where", "detail"):
            fails.add_column(col, overflow="fold")
        for fl in summary["failures"][:30]:
            detail = fl["detail"] if fl["url"] in fl["detail"] else f"{fl['url']}  {fl['detail']}"
            fails.add_row(fl["stage"], fl["reason"], escape(fl.get("where", "")), escape(detail))
        err.print(fails)
    for w in summary.get("warnings", [])[:30]:
        err.print(f"[yellow]warning[/] feed {escape(w['feed'])}: {escape(w['warning'])}")
    if summary["items_new"] == 0 and summary["extracted"] == 0:
        err.print("Nothing new: every item was already known (0 new articles).")


def run_ingest(
    settings: Settings, as_json: bool, sources: list[Any] | None = None, due_only: bool = False
) -> dict[str, Any]:
    from pipeline.progress import RichProgress
    from pipeline.run import ingest_cycle

    after = _alerts_hook()
    with RichProgress(err, enabled=not as_json or sys.stderr.isatty()) as progress:
        summary = ingest_cycle(
            settings, progress=progress, sources=sources, after_index=after, due_only=due_only
        )
    return summary


def _alerts_hook():  # type: ignore[no-untyped-def]
    """The alerts stage, when the alerts package is installed in this build."""
    try:
        from pipeline.alerts.stage import alerts_after_index
    except ImportError:
        return None
    return alerts_after_index


@app.command()
def ingest(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")
    ] = False,
) -> None:
    """Run one ingest cycle: poll feeds, fetch and extract new articles, enrich, index."""
    try:
        settings = _settings()
        summary = run_ingest(settings, as_json)
    except NewswatchError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(summary)


@app.command()
def watch(
    every: Annotated[
        str | None,
        typer.Option(
            help="Time between cycles, e.g. 90s, 10m, 1h (default: NEWSWATCH_WATCH_EVERY or 10m)."
        ),
    ] = None,
    max_runs: Annotated[int, typer.Option(help="Stop after this many cycles (0 = forever).")] = 0,
) -> None:
    """Run ingest cycles in a loop (Ctrl-C to stop); each feed is polled at its own interval."""
    try:
        settings = _settings()
    except NewswatchError as exc:
        _fail(exc)
    interval = _parse_every(every or settings.watch_every)
    runs = 0
    while True:
        started = time.monotonic()
        try:
            print_summary(run_ingest(settings, False, due_only=True))
        except NewswatchError as exc:
            err.print(f"[red]run failed:[/] {escape(str(exc))}")
        runs += 1
        if max_runs and runs >= max_runs:
            return
        wait = max(0.0, interval - (time.monotonic() - started))
        err.print(f"next cycle in {wait:.0f}s")
        try:
            time.sleep(wait)
        except KeyboardInterrupt:
            return


# ---------------------------------------------------------------- search / show
QUERY_HELP = (
    'Lucene syntax: terms, "phrases", AND/OR/NOT, (groups), field:value '
    "(title text source lang event entity person org actor place story), "
    "published:[2020-01-01 TO 2020-12-31] and ingested:[...] ranges, prefix*, "
    '"words near"~10 proximity. Bare words match their word forms (mobilisation '
    '= mobilised); "quoted" words match exactly'
)


def _mark_to_rich(snippet: str) -> str:
    snippet = " ".join(snippet.split())  # one line per snippet in a terminal
    text = escape(html.unescape(snippet.replace("<mark>", "\x01").replace("</mark>", "\x02")))
    return text.replace("\x01", "[bold yellow]").replace("\x02", "[/]")


def do_search(settings: Settings, request: Any) -> Any:
    from pipeline.search.base import open_backend

    backend = open_backend(settings)
    try:
        return backend.search(request)
    finally:
        backend.close()


@app.command()
def search(
    query: Annotated[
        str,
        typer.Argument(help=QUERY_HELP),
    ],
    since: Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Published before (YYYY-MM-DD).")] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only this source (repeatable).")] = None,
    lang: Annotated[list[str] | None, typer.Option(help="Only this language (repeatable).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    sort: Annotated[str, typer.Option(help="relevance | date")] = "relevance",
    collapse: Annotated[bool, typer.Option(help="One hit per story.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Full-text search over everything ingested."""
    from pipeline.search.base import SearchRequest

    if sort not in ("relevance", "date"):
        raise typer.BadParameter("use relevance or date", param_hint="--sort")
    try:
        settings = _settings()
        req = SearchRequest(
            query=query,
            since=_parse_date(since, "--since"),
            until=_parse_date(until, "--until"),
            sources=source or [],
            langs=lang or [],
            limit=limit,
            sort=sort,  # type: ignore[arg-type]
            collapse=collapse,
        )
        result = do_search(settings, req)
    except NewswatchError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(result.record(), ensure_ascii=False))
        return
    err.print(f"{result.total} result(s) for [bold]{escape(query)}[/]")
    for i, hit in enumerate(result.hits, 1):
        date = hit.published.date().isoformat() if hit.published else "no date"
        out.print(
            f"[bold]{i}. {escape(hit.title or '(no title)')}[/]  [dim]{escape(hit.source)} · "
            f"{hit.lang or '?'} · {date} · {hit.score:.2f} · {hit.id}[/]"
        )
        out.print(f"   {_mark_to_rich(hit.snippet)}")
        if hit.events:
            out.print(f"   [cyan]events:[/] {', '.join(hit.events)}")
        out.print(f"   [dim]{escape(hit.url)}[/]")


@app.command()
def show(
    article_id: Annotated[str, typer.Argument(metavar="ID", help="Article id (from search).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the article record as JSON.")
    ] = False,
) -> None:
    """Show one stored article."""
    from pipeline.store import open_store

    try:
        store = open_store(_settings())
        try:
            article = store.get_article(article_id)
        finally:
            store.close()
        if article is None:
            raise NotFound(f"no article with id {article_id!r} (ids come from `newswatch search`)")
    except NewswatchError as exc:
        _fail(exc)
    rec = article.record()
    if as_json:
        print(json.dumps(rec, ensure_ascii=False))
        return
    out.print(f"[bold]{escape(article.title)}[/]")
    out.print(
        f"[dim]{escape(article.source)} · {article.lang} · {rec['published']} "
        f"(date from {article.date_source}) · extracted by {article.extraction_method}[/]"
    )
    out.print(f"[dim]{escape(article.url)}[/]\n")
    out.print(escape(article.text))
    if article.events:
        out.print("\n[cyan]Events[/]")
        for e in article.events:
            out.print(f"  {e.type} ({e.confidence:.2f}): {escape(e.evidence)}")
    if article.entities:
        out.print("\n[cyan]Entities[/]")
        out.print("  " + ", ".join(f"{escape(e.name)} ({e.type})" for e in article.entities))


@app.command()
def export(
    query: Annotated[
        str, typer.Argument(help="Optional query (same language as search); none = all.")
    ] = "",
    since: Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Published before (YYYY-MM-DD).")] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only this source (repeatable).")] = None,
    lang: Annotated[list[str] | None, typer.Option(help="Only this language (repeatable).")] = None,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="JSON Lines, one article per line.")
    ] = False,
    csv_: Annotated[bool, typer.Option("--csv", help="CSV; lists/objects as JSON text.")] = False,
    parquet: Annotated[
        bool, typer.Option("--parquet", help="Parquet (needs -o and the parquet extra).")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export stored articles (full text, events, entities) as JSONL, CSV or Parquet."""
    from pipeline.export import export as do_export
    from pipeline.export import iter_records
    from pipeline.progress import RichProgress
    from pipeline.search.query import parse_query
    from pipeline.store import open_store

    chosen = [name for name, on in (("jsonl", jsonl), ("csv", csv_), ("parquet", parquet)) if on]
    if len(chosen) != 1:
        raise typer.BadParameter("choose exactly one of --jsonl, --csv, --parquet")
    fmt = chosen[0]
    try:
        parse_query(query)  # a broken query is an error before anything is written
        settings = _settings()
        store = open_store(settings)
        try:
            records = iter_records(
                settings,
                store,
                query=query,
                since=_parse_date(since, "--since"),
                until=_parse_date(until, "--until"),
                sources=source or [],
                langs=lang or [],
            )
            with RichProgress(err, enabled=output is not None) as progress:
                progress.start("export", None)
                n = do_export(
                    records,
                    fmt,  # type: ignore[arg-type]
                    None if output else sys.stdout,
                    str(output) if output else None,
                    tick=lambda: progress.advance("export"),
                )
                progress.done("export")
        finally:
            store.close()
    except NewswatchError as exc:
        _fail(exc)
    err.print(f"Exported {n} article(s) as {fmt}" + (f" to {output}" if output else "") + ".")


# ---------------------------------------------------------------- feeds
@feeds_app.callback()
def feeds_list(ctx: typer.Context) -> None:
    """List the configured feeds with their last poll state."""
    if ctx.invoked_subcommand:
        return
    from pipeline.feeds import load_feeds
    from pipeline.run import feed_health

    try:
        settings = _settings()
        sources = load_feeds(settings.feeds_file)
        health = {h["name"]: h for h in feed_health(settings)}
    except NewswatchError as exc:
        _fail(exc)
    table = Table(title=f"Feeds ({settings.feeds_file})")
    for col in (
        "name",
        "lang",
        "every",
        "last status",
        "errors in a row",
        "last success",
        "items seen",
        "url",
    ):
        table.add_column(col, overflow="fold")
    for src in sources:
        h = health.get(src.name, {})
        table.add_row(
            escape(src.name),
            src.lang or "",
            f"{src.interval // 60}m",
            h.get("last_status") or "never polled",
            str(h.get("consecutive_errors", 0)),
            (h.get("last_success_at") or "")[:19],
            str(h.get("items_seen", 0)),
            escape(src.url),
        )
    out.print(table)


@feeds_app.command("check")
def feeds_check(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Request every configured feed once and report which answer (nothing is stored)."""
    from pipeline.feeds import check_feeds, load_feeds

    try:
        settings = _settings()
        sources = load_feeds(settings.feeds_file)
        polls = check_feeds(settings, sources)
    except NewswatchError as exc:
        _fail(exc)
    rows = [
        {
            "name": p.source.name,
            "url": p.source.url,
            "status": p.status,
            "http_status": p.http_status,
            "items": len(p.items),
            "warning": p.warning,
            "error": f"{p.failure.reason}: {p.failure.detail}" if p.failure else None,
        }
        for p in polls
    ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        table = Table(title="Feed check")
        for col in ("name", "status", "http", "items", "problem"):
            table.add_column(col, overflow="fold")
        for r in rows:
            colour = "green" if r["status"] == "ok" else "red"
            table.add_row(
                escape(r["name"]),
                f"[{colour}]{r['status']}[/]",
                str(r["http_status"] or ""),
                str(r["items"]),
                escape(r["error"] or r["warning"] or ""),
            )
        out.print(table)
    ok = sum(1 for r in rows if r["status"] == "ok")
    err.print(f"{ok} of {len(rows)} feeds answered.")


# ---------------------------------------------------------------- maintenance
@app.command()
def reindex() -> None:
    """Rebuild the search index from state and switch to it with no empty moment."""
    from pipeline.progress import RichProgress
    from pipeline.run import reindex as do_reindex

    try:
        settings = _settings()
        with RichProgress(err) as progress:
            n = do_reindex(settings, progress)
    except NewswatchError as exc:
        _fail(exc)
    err.print(f"Reindexed {n} article(s) into the {settings.search_backend} backend.")


@app.command()
def retry() -> None:
    """Put items that failed for good back in the queue for the next ingest."""
    from pipeline.run import retry_failed_items

    try:
        n = retry_failed_items(_settings())
    except NewswatchError as exc:
        _fail(exc)
    err.print(f"{n} failed item(s) will be retried on the next ingest.")


@app.command()
def enrich(
    jsonl: Annotated[
        Path, typer.Option("--jsonl", help='File of lines {"id", "text", "lang"?}; - for stdin.')
    ],
) -> None:
    """Tag entities, places and event types in texts; one JSON line out per line in."""
    from pipeline.enrich import enrich_jsonl

    if str(jsonl) == "-":
        lines = sys.stdin
    elif not jsonl.is_file():
        _fail(NotFound(f"no such file: {jsonl}"))
        return
    else:
        lines = jsonl.open(encoding="utf-8")
    for line in enrich_jsonl(lines):
        print(line)


# ---------------------------------------------------------------- demo
@app.command()
def demo(
    query: Annotated[
        str, typer.Option(help="The search shown after the ingest.")
    ] = "mobilisation AND Sirte",
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its state.")] = Path(
        "data/demo"
    ),
) -> None:
    """Serve the bundled demo corpus on 127.0.0.1, ingest it, then show a search."""
    from pipeline.demo.corpus import DEMO_SETTINGS, start_demo_server, write_feeds_file
    from pipeline.search.base import SearchRequest

    server = start_demo_server()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        feeds_file = write_feeds_file(server.url, data_dir / "feeds.yaml")
        overrides = dict(DEMO_SETTINGS)
        overrides.update(data_dir=data_dir, feeds_file=feeds_file)
        try:
            settings = _settings(**overrides)
            err.print(f"Demo site at {server.url} · state in {data_dir}")
            print_summary(run_ingest(settings, False))
            result = do_search(settings, SearchRequest(query=query, limit=5))
        except NewswatchError as exc:
            _fail(exc)
    finally:
        server.stop()
    out.print(f"\n[bold]newswatch search {escape(repr(query))}[/] → {result.total} result(s)")
    for i, hit in enumerate(result.hits, 1):
        out.print(f"[bold]{i}. {escape(hit.title)}[/] [dim]({escape(hit.source)}, {hit.id})[/]")
        out.print(f"   {_mark_to_rich(hit.snippet)}")
    out.print(
        f"\nTry: NEWSWATCH_DATA_DIR={data_dir} "
        "newswatch search 'event:mobilisation AND place:Sirte'"
    )


# ---------------------------------------------------------------- serve
@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
) -> None:
    """Serve the search page and the HTTP API (keys required off loopback)."""
    from pipeline.api.serve import serve as run_server

    try:
        run_server(_settings(), host=host, port=port)
    except NewswatchError as exc:
        _fail(exc)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
