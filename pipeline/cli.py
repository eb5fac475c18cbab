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
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.cli_help import PlainHelpGroup, lines_of
from pipeline.errors import NewswatchError, NotFound

if TYPE_CHECKING:
    from rich.table import Table

    from pipeline.config import Settings

# Settings (pydantic), state (SQLAlchemy), search and the gazetteer are imported
# inside the commands that need them: `newswatch --help` starts in a fraction of
# the time (benchmarks/startup_bench.py measures it).


class NewswatchGroup(PlainHelpGroup):
    """The top-level group; ``alerts`` (SQLAlchemy, Alembic, rules) loads on first use."""

    lazy: ClassVar[dict[str, tuple[str, str]]] = {
        "alerts": ("pipeline.alerts.cli:alerts_app", "Keyword alerts: rules, history, delivery.")
    }


app = typer.Typer(
    name="newswatch",
    help="Watch Libya's news: poll feeds, extract articles, tag who/what/where, search, alert.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=NewswatchGroup,
)
feeds_app = typer.Typer(
    help="The configured feeds and their health.",
    invoke_without_command=True,
    cls=PlainHelpGroup,
)
app.add_typer(feeds_app, name="feeds")

err = Console(stderr=True)
out = Console()


def _settings(**overrides: Any) -> Settings:
    from pipeline.config import load_settings

    return load_settings(**overrides)


def _table(**kw: Any) -> Table:
    from rich.table import Table

    return Table(**kw)


def _fail(exc: Exception, code: int = 2) -> None:
    """One line (and, for a query, the query with a caret under the spot), exit ``code``."""
    from pipeline.errors import QueryError

    msg = str(exc)
    if isinstance(exc, QueryError) and exc.position is not None and exc.query:
        msg = f"{msg}\n  {exc.query}\n  {' ' * exc.position}^"
    err.print(f"[bold red]error:[/] {escape(msg)}")
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
    table = _table(title=f"Run {summary['run_id']}", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    f = summary["feeds"]
    status = summary.get("status", "ok")
    table.add_row("status", status if status == "ok" else f"[bold red]{escape(status)}[/]")
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
        from pipeline.run import group_failures

        groups = group_failures(summary["failures"])[:30]
        reason_w = max(6, *(len(g["reason"]) for g in groups))
        where_w = 18 if err.width < 120 else 30
        detail_w = max(20, err.width - (5 + reason_w + 3 + where_w) - 16)
        fails = _table(title="Failures (one row per kind)", show_lines=False)
        fails.add_column("stage", no_wrap=True)
        fails.add_column("reason", no_wrap=True)
        fails.add_column("n", justify="right", no_wrap=True)
        fails.add_column("where", width=where_w, max_width=where_w)
        fails.add_column("detail", width=detail_w, max_width=detail_w)
        for g in groups:
            shown = _places(g["where"], 2 * where_w - 2)
            detail = re.sub(r"https?://[^/\s]+", "", g["detail"])  # the path says which page
            fails.add_row(
                g["stage"],
                g["reason"],
                str(g["count"]),
                escape(lines_of(shown, where_w)),
                escape(lines_of(detail, detail_w, lines=3)),
            )
        err.print(fails)
    for w in summary.get("warnings", [])[:30]:
        err.print(f"[yellow]warning[/] feed {escape(w['feed'])}: {escape(w['warning'])}")
    feeds_answered = f["ok"] + f["not_modified"] > 0
    if summary.get("problem"):
        err.print(f"[bold red]{escape(summary.get('hint') or summary['problem'])}[/]")
    elif feeds_answered and summary["items_new"] == 0 and summary["extracted"] == 0:
        err.print("Nothing new: every item was already known (0 new articles).")


def _places(names: list[str], room: int) -> str:
    """As many names as fit in ``room`` characters, then "and N more"."""
    for k in range(len(names), 0, -1):
        text = ", ".join(names[:k]) + (f" and {len(names) - k} more" if k < len(names) else "")
        if len(text) <= room:
            return text
    return f"{len(names)} places"


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
    if summary.get("status") == "failed":
        raise typer.Exit(1)


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


def _cut_snippet(snippet: str, limit: int) -> str:
    """Cut a <mark>ed snippet to about ``limit`` visible characters, never inside a tag."""
    flat = " ".join(snippet.split())
    visible = html.unescape(re.sub(r"</?mark>", "", flat))
    if len(visible) <= limit:
        return flat
    out, seen = [], 0
    for piece in re.split(r"(</?mark>|&[#\w]+;)", flat):
        if not piece:
            continue
        if piece in ("<mark>", "</mark>"):
            out.append(piece)
            continue
        width = 1 if piece.startswith("&") and piece.endswith(";") else len(piece)
        if seen + width > limit:
            room = limit - seen
            if width > 1 and room > 0:
                part = piece[:room]
                space = part.rfind(" ")
                out.append(part[:space] if space > room // 2 else part)
            break
        out.append(piece)
        seen += width
    text = "".join(out).rstrip()
    if text.count("<mark>") > text.count("</mark>"):
        text += "</mark>"
    return text + "…"


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
    sort: Annotated[
        Literal["relevance", "date"], typer.Option(help="Best match first, or newest first.")
    ] = "relevance",
    collapse: Annotated[bool, typer.Option(help="One hit per story.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Full-text search over everything ingested."""
    from pipeline.search.base import SearchRequest
    from pipeline.search.fieldcheck import check_query_fields

    try:
        warnings = check_query_fields(query)
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
    for w in warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    if as_json:
        record = result.record()
        if warnings:
            record["warnings"] = warnings
        print(json.dumps(record, ensure_ascii=False))
        return
    err.print(f"{result.total} result(s) for [bold]{escape(query)}[/]")
    # At most two lines per snippet at any width; `show ID` prints the whole text.
    # Word wrapping loses up to a word's length at each line end: leave room for it.
    snippet_chars = max(60, 2 * (out.width - 3) - 2 * 20)
    for i, hit in enumerate(result.hits, 1):
        date = hit.published.date().isoformat() if hit.published else "no date"
        out.print(
            f"[bold]{i}. {escape(hit.title or '(no title)')}[/]  [dim]{escape(hit.source)} · "
            f"{hit.lang or '?'} · {date} · {hit.score:.2f} · {hit.id}[/]"
        )
        out.print(f"   {_mark_to_rich(_cut_snippet(hit.snippet, snippet_chars))}")
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
            recalled = "" if e.reported else " [dim](recalled, background)[/]"
            out.print(f"  {e.type}{recalled} ({e.confidence:.2f}): {escape(e.evidence)}")
    if article.entities:
        out.print("\n[cyan]Entities[/]")
        out.print("  " + ", ".join(f"{escape(e.name)} ({e.type})" for e in article.entities))


def _need_pyarrow() -> None:
    """Parquet needs pyarrow: say so before any file is created."""
    from pipeline.export import require_pyarrow

    require_pyarrow()


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
    incidents: Annotated[
        bool,
        typer.Option(
            "--incidents", help="Export incidents as ACLED-like rows instead of articles."
        ),
    ] = False,
) -> None:
    """Export stored articles (full text, events, entities) as JSONL, CSV or Parquet.

    With --incidents: one row per incident (event_date, event_type, sub_event_type,
    actor1, actor2, admin1, location, latitude, longitude, source, notes = evidence)."""
    from pipeline.export import export as do_export
    from pipeline.export import iter_records
    from pipeline.progress import RichProgress
    from pipeline.search.query import parse_query
    from pipeline.store import open_store

    chosen = [name for name, on in (("jsonl", jsonl), ("csv", csv_), ("parquet", parquet)) if on]
    if len(chosen) != 1:
        raise typer.BadParameter("choose exactly one of --jsonl, --csv, --parquet")
    fmt = chosen[0]
    if incidents:
        _export_incidents(fmt, output, since, until)
        return
    existed = output is not None and output.exists()
    try:
        if fmt == "parquet":
            _need_pyarrow()
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
        if output is not None and not existed and output.is_file() and not output.stat().st_size:
            output.unlink()  # no empty file left behind by a failed export
        _fail(exc)
    err.print(f"Exported {n} article(s) as {fmt}" + (f" to {output}" if output else "") + ".")


def _export_incidents(fmt: str, output: Path | None, since: str | None, until: str | None) -> None:
    from pipeline.incidents import cli as inc_cli
    from pipeline.incidents.export import write

    try:
        records = inc_cli.select(
            _settings(),
            since=inc_cli.parse_day(since, "--since"),
            until=inc_cli.parse_day(until, "--until"),
        )
        n = write(records, fmt, None if output else sys.stdout, str(output) if output else None)
    except NewswatchError as exc:
        _fail(exc)
    err.print(f"Exported {n} incident(s) as {fmt}" + (f" to {output}" if output else "") + ".")


@app.command()
def incidents(
    since: Annotated[str | None, typer.Option(help="Event on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Event on or before (YYYY-MM-DD).")] = None,
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="Event type (repeatable).")
    ] = None,
    place: Annotated[str | None, typer.Option(help="Place id or name (e.g. sirte).")] = None,
    actor: Annotated[str | None, typer.Option(help="Actor id or name (e.g. lna).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per line.")] = False,
    relink: Annotated[
        bool, typer.Option("--relink", help="Forget incidents and link every article again.")
    ] = False,
) -> None:
    """Incidents: one record per real-world event across outlets and languages."""
    from pipeline.incidents import cli as inc_cli

    try:
        inc_cli.check_types(type_ or [])
        records = inc_cli.select(
            _settings(),
            since=inc_cli.parse_day(since, "--since"),
            until=inc_cli.parse_day(until, "--until"),
            types=type_ or [],
            place=place,
            actor=actor,
            relink=relink,
        )
    except NewswatchError as exc:
        _fail(exc)
    inc_cli.show(records, as_json, out)


# ---------------------------------------------------------------- feeds
def _when(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "never"


def feeds_table(sources: list[Any], health: dict[str, Any], title: str, width: int) -> Table:
    """The feeds table, laid out for the terminal's width.

    Below 120 columns the URL and language are left out (``feeds --json``
    style detail is in ``feeds check``): a table of eight folded columns in
    80 columns wrapped every cell over four to eight lines.
    """
    wide = width >= 120
    table = _table(title=f"Feeds ({title})")
    table.add_column("name", overflow="fold", max_width=28)
    if wide:
        table.add_column("lang", no_wrap=True)
    table.add_column("every", no_wrap=True, justify="right")
    table.add_column("last status", overflow="fold", max_width=14)
    table.add_column("errors", no_wrap=True, justify="right")
    table.add_column("last success", no_wrap=True)
    table.add_column("items", no_wrap=True, justify="right")
    if wide:
        table.add_column("url", overflow="fold")
    for src in sources:
        h = health.get(src.name, {})
        row = [escape(src.name)]
        if wide:
            row.append(src.lang or "")
        row += [
            f"{src.interval // 60}m",
            h.get("last_status") or "never polled",
            str(h.get("consecutive_errors", 0)),
            _when(h.get("last_success_at")),
            str(h.get("items_seen", 0)),
        ]
        if wide:
            row.append(escape(src.url))
        table.add_row(*row)
    return table


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
    table = feeds_table(sources, health, str(settings.feeds_file), out.width)
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
        table = _table(title="Feed check")
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
    from pipeline.demo.corpus import (
        DELIBERATE_FAILURES,
        DEMO_SETTINGS,
        start_demo_server,
        write_feeds_file,
    )
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
            summary = run_ingest(settings, False)
            print_summary(summary)
            result = do_search(settings, SearchRequest(query=query, limit=5))
        except NewswatchError as exc:
            _fail(exc)
    finally:
        server.stop()
    shown = {r for r in summary["failed"] if r in DELIBERATE_FAILURES}
    if shown:
        err.print("[dim]The failures above are deliberate: the demo site includes[/]")
        for reason in sorted(shown):
            err.print(f"[dim]  {reason}: {escape(DELIBERATE_FAILURES[reason])}[/]")
        err.print("[dim]to show how each kind is recorded. The rest of the run is real.[/]")
    out.print(f"\n[bold]newswatch search {escape(repr(query))}[/] → {result.total} result(s)")
    for i, hit in enumerate(result.hits, 1):
        out.print(f"[bold]{i}. {escape(hit.title)}[/] [dim]({escape(hit.source)}, {hit.id})[/]")
        out.print(f"   {_mark_to_rich(hit.snippet)}")
    out.print(
        f"\nTry: NEWSWATCH_DATA_DIR={data_dir} "
        ".venv/bin/newswatch search 'event:mobilisation AND place:Sirte'"
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
