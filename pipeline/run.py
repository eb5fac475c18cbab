"""One ingest cycle, stage by stage, with counts and timings.

The same stage functions serve the CLI (``ingest_cycle``), the Airflow tasks
(one call per task, ids in and ids out) and the tests. Each stage is
idempotent: it reads what is pending from the state store and upserts what it
produces, so a crash or a re-run converges on the same state. Each stage
appends its counts to ``run_stats``; ``finish_run`` sums them into the run
summary of DESIGN.md ("ingest --json").
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from multiprocessing import current_process, get_context
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.config import Settings
from pipeline.errors import BackendUnavailable, StateUnavailable
from pipeline.models import Article, Failure, FeedItem, FeedSource, Page
from pipeline.store import Store, open_store
from pipeline.store.db import PERMANENT_REASONS, article_from_row

if TYPE_CHECKING:
    from pipeline.search.base import SearchBackend

MAX_FAILURE_DETAILS = 200
OFFLINE_PROBLEM = "all_feeds_failed"
OFFLINE_HINT = (
    "Every feed failed: the network seems unreachable. "
    "`newswatch demo` shows the product offline with a bundled corpus."
)
ALL_FAILED_HINT = (
    "Every feed failed (the reasons are listed above), so this run learned nothing. "
    "`newswatch demo` shows the product offline with a bundled corpus."
)
# Reasons that say the network, not the publisher, is what failed.
NETWORK_REASONS = frozenset({"connect_error", "dns_error", "network_error", "timeout", "too_slow"})
INDEX_BATCH = 500
POOL_THRESHOLD = 24  # below this many pages, extraction runs inline (no process start-up)
WRITE_BATCH = 100  # rows written per transaction: fewer commits, short write locks
MAX_INFLIGHT = 64  # pages waiting for or in extraction; beyond it the fetch waits


class Progress(Protocol):
    """What a stage reports while it works (the CLI draws bars from it)."""

    def start(self, stage: str, total: int | None) -> None: ...

    def advance(self, stage: str, n: int = 1) -> None: ...

    def done(self, stage: str) -> None: ...


class NoProgress:
    def start(self, stage: str, total: int | None) -> None:
        pass

    def advance(self, stage: str, n: int = 1) -> None:
        pass

    def done(self, stage: str) -> None:
        pass


class _Tally:
    """Counts and failures of one stage, saved as a run_stats row."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.failures: list[dict[str, str]] = []
        self.warnings: list[dict[str, str]] = []

    def fail(self, failure: Failure, where: str = "") -> None:
        self.failed[failure.reason] += 1
        if len(self.failures) < MAX_FAILURE_DETAILS:
            self.failures.append(
                {
                    "stage": failure.stage,
                    "reason": failure.reason,
                    "url": failure.url,
                    "where": where,
                    "detail": failure.detail,
                }
            )

    def data(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "failed": dict(self.failed),
            "failures": self.failures,
            "warnings": self.warnings,
        }


def _now() -> datetime:
    return datetime.now(UTC)


def _store(settings: Settings, store: Store | None) -> tuple[Store, bool]:
    return (store, False) if store is not None else (open_store(settings), True)


def configured_feeds(settings: Settings) -> list[FeedSource]:
    from pipeline.feeds import load_feeds

    return load_feeds(settings.feeds_file)


# ---------------------------------------------------------------- runs
class RunTerminated(BaseException):
    """SIGTERM arrived during a run. A BaseException, so no "one bad page never
    sinks the run" handler swallows it on its way to :func:`ingest_cycle`."""


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie, killed but not yet reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def close_dead_runs(store: Store) -> list[str]:
    """Mark ``killed`` the runs left ``running`` by a process of this host that is gone.

    A run started by ``ingest``/``watch`` records its host and pid; if that
    process no longer exists (kill -9, OOM killer, a scheduler's timeout), the
    run can never close itself, so the next run does, and ends the item
    leases it held so its pages are fetched now, not when the leases expire.
    Runs of other hosts, and Airflow runs (no owner: their tasks come and go),
    are left alone.
    """
    here = socket.gethostname()
    closed = []
    for run in store.running_runs():
        owner = (run.summary or {}).get("owner") or {}
        pid = owner.get("pid")
        if owner.get("host") != here or not isinstance(pid, int) or pid == os.getpid():
            continue
        if _pid_alive(pid):
            continue
        note = f"process {pid} on {here} ended without closing this run (killed)"
        if store.mark_run_killed(run.id, note):
            closed.append(run.id)
        store.release_items(run.id)
    return closed


def start_run(
    settings: Settings, store: Store | None = None, owner: dict[str, Any] | None = None
) -> str:
    st, own = _store(settings, store)
    run_id = _now().strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
    st.start_run(run_id, owner)
    if own:
        st.close()
    return run_id


def finish_run(
    settings: Settings, run_id: str, store: Store | None = None, status: str = "ok"
) -> dict[str, Any]:
    """Sum the run's stage rows into the summary object and close the run."""
    st, own = _store(settings, store)
    try:
        run = st.get_run(run_id)
        counts: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        failures: list[dict[str, str]] = []
        warnings: list[dict[str, str]] = []
        seconds: Counter[str] = Counter()
        for row in st.run_stats(run_id):
            counts.update(row.data.get("counts", {}))
            failed.update(row.data.get("failed", {}))
            failures.extend(row.data.get("failures", []))
            warnings.extend(row.data.get("warnings", []))
            seconds[row.stage] += row.seconds
        finished = _now()
        problem = run_problem(counts)
        if problem and status == "ok":
            status = "failed"
        summary: dict[str, Any] = {
            "run_id": run_id,
            "started_at": run.started_at.isoformat() if run else None,
            "finished_at": finished.isoformat(),
            "status": status,
            "feeds": {
                "ok": counts["feeds_ok"],
                "failed": counts["feeds_failed"],
                "not_modified": counts["feeds_not_modified"],
                "not_due": counts["feeds_not_due"],
                "with_warnings": counts["feeds_with_warnings"],
            },
            "items_new": counts["items_new"],
            "pages_fetched": counts["pages_fetched"],
            "extracted": counts["extracted"],
            "duplicates": counts["duplicates"],
            "enriched": counts["enriched"],
            "indexed": counts["indexed"],
            "pending_index": st.count_pending_index(),
            "failed": dict(sorted(failed.items())),
            "failures": failures[:MAX_FAILURE_DETAILS],
            "warnings": warnings[:MAX_FAILURE_DETAILS],
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
        }
        if problem:
            summary["problem"] = problem
            summary["hint"] = all_failed_hint(failed)
        for key in sorted(counts):
            if key == "alerts" or key.startswith("alerts_"):
                summary[key] = counts[key]
        st.update_run(run_id, summary, status=status)
        return summary
    finally:
        if own:
            st.close()


def all_failed_hint(failed: Counter[str] | dict[str, int]) -> str:
    """Blame the network only when every failure was a network one.

    A lone feed that fails as a compression bomb or a 404 is not an offline
    machine; saying so would send the user after the wrong problem.
    """
    reasons = {reason for reason, n in failed.items() if n}
    if reasons and reasons <= NETWORK_REASONS:
        return OFFLINE_HINT
    return ALL_FAILED_HINT


def run_problem(counts: Counter[str] | dict[str, int]) -> str | None:
    """Why a run that raised nothing still failed: every feed it polled failed.

    Then nothing was learned at all, which is what an offline first run looks
    like; "ok" and "nothing new" would both be false.
    """
    answered = counts.get("feeds_ok", 0) + counts.get("feeds_not_modified", 0)
    if counts.get("feeds_failed", 0) > 0 and answered == 0:
        return OFFLINE_PROBLEM
    return None


def _generic_detail(detail: str, url: str) -> str:
    """The detail with what differs between feeds (URL, host, address) taken out."""
    from urllib.parse import urlsplit

    out = detail.replace(url, "URL") if url else detail
    host = urlsplit(url).hostname if url else None
    out = re.sub(r"https?://\S+?(?=[\s:;,)]|$)", "URL", out)
    if host:
        out = out.replace(host, "host")
    return re.sub(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?", "host", out)


def group_failures(failures: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """Failures of one kind (stage, reason, and the same detail once URLs and hosts
    are set aside) as one row with a count and the places it happened, in first-seen
    order. ``detail`` is the failure's own for a single one, the shared form otherwise.

    Why: an outage makes one near-identical row per feed; a reader needs the kind
    and how many, not a hundred lines.
    """
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for fl in failures:
        detail, url = fl.get("detail", ""), fl.get("url", "")
        key = (fl.get("stage", ""), fl.get("reason", ""), _generic_detail(detail, url))
        where = fl.get("where") or url
        g = groups.get(key)
        if g is None:
            groups[key] = {
                "stage": key[0],
                "reason": key[1],
                "detail": detail,
                "count": 1,
                "where": [where] if where else [],
            }
            continue
        g["count"] += 1
        g["detail"] = key[2]
        if where and where not in g["where"]:
            g["where"].append(where)
    return list(groups.values())


# ---------------------------------------------------------------- feeds
def due_feeds(
    sources: Sequence[FeedSource], last_polled: dict[str, datetime | None], now: datetime
) -> list[FeedSource]:
    """The feeds whose own ``interval`` has passed since their last poll (never polled: due)."""
    out = []
    for src in sources:
        last = last_polled.get(src.name)
        if last is None or (now - last).total_seconds() >= src.interval:
            out.append(src)
    return out


def poll_stage(
    settings: Settings,
    sources: Sequence[FeedSource],
    run_id: str | None = None,
    store: Store | None = None,
    progress: Progress | None = None,
    due_only: bool = False,
) -> list[str]:
    """Poll feeds (conditional GET), record each feed's state, add new items.

    ``due_only`` (the ``watch`` loop) skips feeds polled less than their own
    ``interval`` ago; a one-off ``ingest`` polls every feed.
    """
    from pipeline.feeds import poll_feeds

    st, own = _store(settings, store)
    progress = progress or NoProgress()
    tally = _Tally()
    t0 = time.perf_counter()
    try:
        if due_only:
            polled = {f.name: f.last_polled_at for f in st.feeds()}
            skipped = len(sources)
            sources = due_feeds(sources, polled, _now())
            tally.counts["feeds_not_due"] += skipped - len(sources)
        st.sync_feeds(sources)
        validators = st.feed_validators()
        progress.start("feeds", len(sources))
        polls = poll_feeds(settings, list(sources), validators)
        new_ids: list[str] = []
        for poll in polls:
            new: list[str] = []
            if poll.status == "failed" and poll.failure is not None:
                tally.counts["feeds_failed"] += 1
                tally.fail(poll.failure, where=poll.source.name)
            elif poll.status == "not_modified":
                tally.counts["feeds_not_modified"] += 1
            else:
                tally.counts["feeds_ok"] += 1
                relinked: list[FeedItem] = []
                new = st.add_items(poll.items, relinked)
                new_ids.extend(new)
                if relinked:
                    first = relinked[0]
                    more = f" (and {len(relinked) - 1} more)" if len(relinked) > 1 else ""
                    tally.warnings.append(
                        {
                            "feed": poll.source.name,
                            "warning": f"guid {first.guid!r} reused for a new link "
                            f"{first.link}{more}: stored as a new item",
                        }
                    )
                if poll.warning:  # e.g. a malformed ("bozo") feed that still gave entries
                    tally.counts["feeds_with_warnings"] += 1
                    tally.warnings.append({"feed": poll.source.name, "warning": poll.warning})
            st.record_poll(
                poll.source.name,
                status=poll.status,
                http_status=poll.http_status,
                etag=poll.etag,
                last_modified=poll.last_modified,
                error=(f"{poll.failure.reason}: {poll.failure.detail}" if poll.failure else None),
                warning=poll.warning,
                new_items=len(new),
            )
            progress.advance("feeds")
        tally.counts["items_new"] += len(new_ids)
        progress.done("feeds")
        return new_ids
    finally:
        st.add_run_stat(run_id, "feeds", tally.data(), time.perf_counter() - t0)
        if own:
            st.close()


def poll_feed_stage(settings: Settings, feed_name: str, run_id: str | None = None) -> list[str]:
    """Airflow task: poll one configured feed; returns its items pending fetch."""
    sources = [s for s in configured_feeds(settings) if s.name == feed_name]
    if not sources:
        raise KeyError(f"no feed named {feed_name!r} in {settings.feeds_file}")
    store = open_store(settings)
    try:
        poll_stage(settings, sources, run_id=run_id, store=store)
        return store.pending_item_ids(settings.max_attempts, feed=feed_name)
    finally:
        store.close()


def pending_item_ids(settings: Settings, limit: int | None = None) -> list[str]:
    store = open_store(settings)
    try:
        return store.pending_item_ids(settings.max_attempts, limit=limit)
    finally:
        store.close()


# ---------------------------------------------------------------- fetch + extract
def _worker_pool() -> ProcessPoolExecutor | None:
    """One worker per core for the CPU-bound extraction and tagging.

    forkserver, not fork: the parent holds threads (the fetch loop, database
    connections) that a forked child must not inherit. Each worker dies with
    the run (:func:`_die_with_parent`): a scheduler that kills an ingest on
    timeout must not leave workers (and, through them, multiprocessing's
    resource tracker) behind. None (work in this process) where this process
    is daemonic and may not have children: an Airflow task on a Celery prefork
    worker is one, and the cluster runs one such task per worker slot, which
    keeps the cores busy anyway.
    """
    if current_process().daemon:
        return None
    return ProcessPoolExecutor(
        max_workers=os.cpu_count() or 2,
        mp_context=get_context("forkserver"),
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    )


def _die_with_parent(run_pid: int) -> None:
    """Worker initializer: end this worker when the process that runs the ingest ends.

    A worker's parent is the forkserver, which exits when the ingest does
    (its pipe to the ingest closes, even on kill -9). So the kernel is asked
    to SIGKILL the worker when its parent goes (Linux ``PR_SET_PDEATHSIG``),
    and a watchdog thread covers other systems and the moment before the
    request: when the parent or the ingest is gone, the worker exits. With
    every worker gone the resource tracker sees its pipe close and exits too.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle

    def watch() -> None:
        while os.getppid() == parent and _pid_alive(run_pid):
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _extract_job(
    page: Page, item: FeedItem, min_chars: int, mode: str = "fast"
) -> tuple[Article | Failure, bool]:
    """Extract, then tag (language, entities, events) in the same worker.

    Both are CPU-bound and independent per page, so they run in the worker
    processes while the fetch goes on; only story clustering, which depends on
    the other articles, is left for the enrich stage. Returns (result, tagged).
    """
    from pipeline.extract import extract_article

    try:
        result = extract_article(page, item, min_text_chars=min_chars, mode=mode)  # type: ignore[arg-type]
    except Exception as exc:  # one ugly page never sinks the run
        return Failure("extract", "extract_error", f"{type(exc).__name__}: {exc}", page.url), False
    if not isinstance(result, Article):
        return result, False
    try:
        enrichment = _enrich_job((result.text, result.lang, result.title))
    except Exception:  # left untagged: the enrich stage tags it again and reports a failure
        return result, False
    result.lang = enrichment.lang or result.lang
    result.events = enrichment.all_events  # reported, then recalled (reported=False)
    result.entities = enrichment.entities
    return result, True


def fetch_extract_stage(
    settings: Settings,
    item_ids: Sequence[str],
    run_id: str | None = None,
    store: Store | None = None,
    progress: Progress | None = None,
) -> list[str]:
    """Fetch each pending item's page, extract its article, store it.

    Pages are extracted in worker processes while the fetch goes on (extraction
    is CPU-bound; fetching waits on the network). Returns the ids of articles
    stored by this call.
    """
    from pipeline.dedup import article_id
    from pipeline.fetch import fetch_pages

    st, own = _store(settings, store)
    progress = progress or NoProgress()
    tally = _Tally()
    t0 = time.perf_counter()
    stored: list[str] = []
    # Unique per call: parallel Airflow fetch tasks share one run id.
    lease = f"{run_id or 'adhoc'}/{os.getpid()}/{uuid.uuid4().hex[:6]}"
    try:
        until = _now() + timedelta(seconds=settings.item_lease)
        claimed = st.claim_items(list(item_ids), lease, until)
        rows = [r for r in st.get_items(claimed) if r.status == "pending"]
        # An item whose link is already a stored article needs no fetch.
        # Two items whose links share a canonical URL are one page: fetch it once.
        known = st.existing_article_ids(article_id(r.link) for r in rows)
        to_fetch = []
        for r in rows:
            aid = article_id(r.link)
            if aid in known:
                st.mark_item(r.id, status="duplicate", article_id=aid, attempt=False)
                tally.counts["duplicates"] += 1
            else:
                known.add(aid)
                to_fetch.append(r)
        by_url: dict[str, list[Any]] = {}
        for r in to_fetch:
            by_url.setdefault(r.link, []).append(r)
        progress.start("pages", len(to_fetch))

        pool: ProcessPoolExecutor | None = None
        if len(to_fetch) >= POOL_THRESHOLD:
            pool = _worker_pool()
        inflight: deque[tuple[Any, Future[tuple[Article | Failure, bool]]]] = deque()
        unsaved: list[tuple[str, Page]] = []

        def save_pages() -> None:
            st.save_pages(unsaved)  # one statement for the batch
            unsaved.clear()

        def finish(row: Any, result: Article | Failure, tagged: bool) -> None:
            if isinstance(result, Failure):
                _record_item_failure(st, settings, row, result, tally)
            else:
                _store_article(st, row, result, tagged, tally, stored)
            progress.advance("pages")

        def drain(limit: int) -> None:
            """Store finished extractions; wait while more than ``limit`` are in flight.

            Waiting here pauses the fetch (this runs in its callback): that is the
            back-pressure that keeps memory flat when extraction is the slower side.
            """
            with st.batch():
                while inflight and (len(inflight) > limit or inflight[0][1].done()):
                    row, future = inflight.popleft()
                    finish(row, *future.result())

        def on_result(url: str, result: Page | Failure) -> None:
            for row in by_url.get(url, []):
                if isinstance(result, Failure):
                    _record_item_failure(st, settings, row, result, tally)
                    progress.advance("pages")
                    continue
                tally.counts["pages_fetched"] += 1
                unsaved.append((row.id, result))
                if len(unsaved) >= WRITE_BATCH:
                    save_pages()
                item = st.item_to_feed_item(row)
                if pool is None:
                    finish(
                        row,
                        *_extract_job(
                            result, item, settings.min_text_chars, settings.extraction_mode
                        ),
                    )
                    continue
                with _no_sigterm():
                    job = pool.submit(
                        _extract_job,
                        result,
                        item,
                        settings.min_text_chars,
                        settings.extraction_mode,
                    )
                inflight.append((row, job))
                if len(inflight) >= MAX_INFLIGHT or inflight[0][1].done():
                    drain(MAX_INFLIGHT)

        try:
            fetch_pages(settings, list(by_url), on_result=on_result)
            save_pages()
            t_fetch = time.perf_counter() - t0
            t1 = time.perf_counter()
            while inflight:
                drain(max(0, len(inflight) - WRITE_BATCH))
        finally:
            if pool is not None:
                with _no_sigterm():
                    pool.shutdown(cancel_futures=True)
        progress.done("pages")
        st.add_run_stat(run_id, "fetch", {}, t_fetch)
        st.add_run_stat(run_id, "extract", tally.data(), time.perf_counter() - t1)
        return stored
    finally:
        # What was not marked (an error, SIGTERM) is free for the next run at once;
        # if even that cannot be written (a full disk), the lease expires by itself.
        with suppress(Exception):
            st.release_items(lease)
        if own:
            st.close()


def _record_item_failure(
    st: Store, settings: Settings, row: Any, failure: Failure, tally: _Tally
) -> None:
    tally.fail(failure, where=row.feed)
    final = failure.reason in PERMANENT_REASONS or row.attempts + 1 >= settings.max_attempts
    st.mark_item(
        row.id,
        status="failed" if final else "pending",
        reason=failure.reason,
        detail=failure.detail,
    )


def _store_article(
    st: Store, row: Any, article: Article, tagged: bool, tally: _Tally, stored: list[str]
) -> None:
    """Store a new article, or mark its item a duplicate of the one already stored.

    One transaction, with the content-hash check serialised across processes
    (:meth:`Store.lock_for_article`): two exact copies fetched at the same
    moment by two processes still give one article.
    """
    with st.batch():
        st.lock_for_article(row.id, article.content_hash)
        original = st.article_with_hash(article.content_hash, exclude_id=article.id)
        if original is not None or st.article_exists(article.id):
            st.mark_item(row.id, status="duplicate", article_id=original or article.id)
            tally.counts["duplicates"] += 1
            return
        if st.save_article(article, tagged=tagged):
            tally.counts["extracted"] += 1
            stored.append(article.id)
        else:  # another process stored it first
            tally.counts["duplicates"] += 1
        st.mark_item(row.id, status="done", article_id=article.id)


# ---------------------------------------------------------------- enrich + dedup + index
ENRICH_CHUNK = 500


def _enrich_job(args: tuple[str, str | None, str]) -> Any:
    from pipeline.enrich import enrich_text

    text, lang, title = args
    return enrich_text(text, lang, title=title)


def enrich_stage(
    settings: Settings,
    run_id: str | None = None,
    store: Store | None = None,
    progress: Progress | None = None,
) -> int:
    """Tag language, entities and events; assign story ids (near-duplicate clusters)."""
    from pipeline.dedup import StoryClusterer

    st, own = _store(settings, store)
    progress = progress or NoProgress()
    t0 = time.perf_counter()
    done = 0
    pool: ProcessPoolExecutor | None = None
    try:
        ids = st.unenriched_ids()
        progress.start("enrich", len(ids))
        if st.count_untagged(ids) >= POOL_THRESHOLD:
            pool = _worker_pool()
        if ids:
            clusterer = StoryClusterer(settings.near_duplicate_threshold)
            clusterer.add_known(st.recent_story_texts())
            for start in range(0, len(ids), ENRICH_CHUNK):
                rows = list(st.iter_article_rows(ids[start : start + ENRICH_CHUNK]))
                untagged = [r for r in rows if not r.enriched]
                inputs = [(r.text, r.lang, r.title) for r in untagged]
                # Tagging is CPU-bound and independent per article: both cores.
                # Story clustering below depends on order and stays in this process.
                if pool is not None and len(inputs) >= POOL_THRESHOLD:
                    with _no_sigterm():
                        results = pool.map(_enrich_job, inputs, chunksize=16)
                    tags = list(results)
                else:
                    tags = [_enrich_job(i) for i in inputs]
                fresh = {r.id: e for r, e in zip(untagged, tags, strict=True)}
                with st.batch():
                    for row in rows:
                        story, relabelled = clusterer.assign(row.id, f"{row.title}\n{row.text}")
                        for other, new_story in relabelled.items():
                            st.set_story(other, new_story)
                        tags_of = fresh.get(row.id)
                        if tags_of is None:  # tagged in the extraction worker already
                            lang, events, entities = row.lang, row.events, row.entities
                        else:
                            lang = tags_of.lang or row.lang
                            events = [e.record() for e in tags_of.all_events]
                            entities = [e.record() for e in tags_of.entities]
                        st.update_enrichment(
                            row.id, lang=lang, story_id=story, events=events, entities=entities
                        )
                        done += 1
                        progress.advance("enrich")
        progress.done("enrich")
        return done
    finally:
        if pool is not None:
            with _no_sigterm():
                pool.shutdown(cancel_futures=True)
        st.add_run_stat(run_id, "enrich", {"counts": {"enriched": done}}, time.perf_counter() - t0)
        if own:
            st.close()


def index_stage(
    settings: Settings,
    run_id: str | None = None,
    store: Store | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Send pending articles to the search backend; only confirmed ids leave pending.

    With the backend down, the articles stay pending and the next run retries them.
    """
    from pipeline.search.base import open_backend
    from pipeline.search.docs import doc_from_article

    st, own = _store(settings, store)
    progress = progress or NoProgress()
    tally = _Tally()
    t0 = time.perf_counter()
    try:
        ids = st.pending_index_ids()
        progress.start("index", len(ids))
        if not ids:
            progress.done("index")
            return {"indexed": 0, "pending_index": st.count_pending_index()}
        backend = open_backend(settings)
        try:
            backend.ensure_ready()
            for i in range(0, len(ids), INDEX_BATCH):
                rows = list(st.iter_article_rows(ids[i : i + INDEX_BATCH]))
                docs = [doc_from_article(article_from_row(r), r.ingested_at) for r in rows]
                report = backend.upsert(docs)
                st.mark_indexed(report.indexed, report.errors)
                tally.counts["indexed"] += len(report.indexed)
                for art_id, reason in report.errors.items():
                    tally.fail(Failure("index", "index_error", reason, art_id))
                progress.advance("index", len(rows))
        except BackendUnavailable as exc:
            tally.fail(Failure("index", "backend_unavailable", str(exc)))
        finally:
            backend.close()
        progress.done("index")
        return {"indexed": tally.counts["indexed"], "pending_index": st.count_pending_index()}
    finally:
        st.add_run_stat(run_id, "index", tally.data(), time.perf_counter() - t0)
        if own:
            st.close()


def incidents_stage(
    settings: Settings, run_id: str | None = None, store: Store | None = None
) -> dict[str, int]:
    """Link newly enriched articles' event mentions to incidents (docs/incidents.md)."""
    from pipeline.incidents.stage import incidents_stage as link_stage

    st, own = _store(settings, store)
    try:
        return link_stage(st, run_id, settings)
    except Exception as exc:  # incidents are derived data: the ingest goes on, the run says why
        tally = _Tally()
        tally.fail(Failure("incidents", "incidents_failed", f"{type(exc).__name__}: {exc}"))
        st.add_run_stat(run_id, "incidents", tally.data(), 0.0)
        return {}
    finally:
        if own:
            st.close()


def enrich_index_stage(settings: Settings, run_id: str | None = None) -> dict[str, int]:
    """Airflow task: enrich and dedup every stored article not yet done, then index."""
    store = open_store(settings)
    try:
        enriched = enrich_stage(settings, run_id, store)
        incidents_stage(settings, run_id, store)
        counts = index_stage(settings, run_id, store)
        return {"enriched": enriched, **counts}
    finally:
        store.close()


# ---------------------------------------------------------------- the whole cycle
def ingest_cycle(
    settings: Settings,
    progress: Progress | None = None,
    sources: Sequence[FeedSource] | None = None,
    after_index: Callable[[Settings, str, Store], dict[str, int]] | None = None,
    due_only: bool = False,
) -> dict[str, Any]:
    """Poll the feeds (every one, or with ``due_only`` those whose interval has passed),
    fetch and extract new items, enrich, index; return the summary.

    Runs left ``running`` by a process that died are closed as ``killed``
    first. SIGTERM (from the main thread) ends the run cleanly: workers
    stop, what was stored stays, the run is closed as ``terminated`` and
    the process exits with status 143. A full disk is one clear error
    naming the state database, never a traceback.
    """
    progress = progress or NoProgress()
    store = open_store(settings)
    status = "ok"
    run_id: str | None = None
    try:
        with _sigterm_ends_run():
            try:
                close_dead_runs(store)
                run_id = start_run(settings, store, owner=_owner())
                feeds = list(sources) if sources is not None else configured_feeds(settings)
                poll_stage(settings, feeds, run_id, store, progress, due_only=due_only)
                pending = store.pending_item_ids(settings.max_attempts)
                fetch_extract_stage(settings, pending, run_id, store, progress)
                enrich_stage(settings, run_id, store, progress)
                incidents_stage(settings, run_id, store)
                index_stage(settings, run_id, store, progress)
                if after_index is not None:
                    t0 = time.perf_counter()
                    counts = after_index(settings, run_id, store)
                    store.add_run_stat(
                        run_id, "alerts", {"counts": counts}, time.perf_counter() - t0
                    )
            except RunTerminated:
                status = "terminated"
                raise
            except BaseException:
                status = "failed"
                raise
            finally:
                summary = _close_run(settings, run_id, store, status)
    except RunTerminated:
        store.close()
        print(
            f"newswatch: run {run_id} stopped by SIGTERM and marked 'terminated'; what was "
            "stored is kept and the next run resumes the rest",
            file=sys.stderr,
        )
        raise SystemExit(128 + signal.SIGTERM) from None
    except BaseException as exc:
        store.close()
        full = disk_full_error(exc, settings)
        if full is not None:
            raise full from None
        raise
    store.close()
    assert summary is not None
    return summary


def _close_run(
    settings: Settings, run_id: str | None, store: Store, status: str
) -> dict[str, Any] | None:
    """finish_run, unless the state itself cannot be written (a full disk): then the
    run stays ``running`` and the next run closes it as ``killed``."""
    if run_id is None:
        return None
    try:
        return finish_run(settings, run_id, store, status=status)
    except Exception as exc:
        if disk_full_error(exc, settings) is None or status == "ok":
            raise
        return None


_uninterruptible = 0  # depth of _no_sigterm() sections in the main thread
_sigterm_pending = False


@contextmanager
def _no_sigterm() -> Iterator[None]:
    """Hold SIGTERM back while worker processes are being started.

    Raised in the middle of ``pool.submit`` (which may start a worker), the
    run's exit would remove the pool's semaphores while a worker is still
    unpickling them. So the exception waits for the end of this section.
    """
    global _uninterruptible, _sigterm_pending
    _uninterruptible += 1
    try:
        yield
    finally:
        _uninterruptible -= 1
    if _uninterruptible == 0 and _sigterm_pending:
        _sigterm_pending = False
        raise RunTerminated()


@contextmanager
def _sigterm_ends_run() -> Iterator[None]:
    """While a run goes on in the main thread, SIGTERM raises RunTerminated there."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        global _sigterm_pending
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the clean-up must finish
        if _uninterruptible:
            _sigterm_pending = True
            return
        raise RunTerminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"


def disk_full_error(exc: BaseException, settings: Settings) -> StateUnavailable | None:
    """A one-line error naming the state database when ``exc`` means "no space left"."""
    import errno

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        code = getattr(cause, "sqlite_errorcode", None)
        text = str(cause).lower()
        full = (
            code == _SQLITE_FULL
            or "database or disk is full" in text
            or getattr(cause, "sqlstate", None) == _PG_DISK_FULL
            or (isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EFBIG))
            or "no space left on device" in text
        )
        if full:
            where = (
                str(settings.search_db_path)
                if settings.is_sqlite_state
                else _shown_url(settings.resolved_database_url)
            )
            return StateUnavailable(
                f"no space left for the state database {where}: the disk is full. "
                "Nothing stored before was lost; free some space and run again"
            )
        cause = getattr(cause, "orig", None) or cause.__cause__ or cause.__context__
    return None


def _shown_url(url: str) -> str:
    from pipeline.store.db import _shown_url as shown

    return shown(url)


# ---------------------------------------------------------------- maintenance
def retry_failed_items(settings: Settings) -> int:
    store = open_store(settings)
    try:
        return store.retry_failed_items()
    finally:
        store.close()


def prune_raw_pages(settings: Settings, days: int = 30) -> int:
    store = open_store(settings)
    try:
        return store.prune_pages(timedelta(days=days))
    finally:
        store.close()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def feed_states(store: Store) -> list[dict[str, Any]]:
    """Per-feed state as the CLI, the API and the maintenance DAG show it."""
    return [
        {
            "name": f.name,
            "url": f.url,
            "lang": f.lang,
            "last_status": f.last_status,
            "last_http_status": f.last_http_status,
            "last_error": f.last_error,
            "last_warning": f.last_warning,
            "consecutive_errors": f.consecutive_errors or 0,
            "last_polled_at": _iso(f.last_polled_at),
            "last_success_at": _iso(f.last_success_at),
            "last_new_item_at": _iso(f.last_new_item_at),
            "items_seen": f.items_seen or 0,
        }
        for f in store.feeds()
    ]


def feed_health(settings: Settings) -> list[dict[str, Any]]:
    store = open_store(settings)
    try:
        return feed_states(store)
    finally:
        store.close()


def check_index(settings: Settings) -> dict[str, int]:
    """Compare state with the search index: counts that should agree."""
    from pipeline.search.base import open_backend

    store = open_store(settings)
    backend = open_backend(settings)
    try:
        backend.ensure_ready()
        return {
            "articles": store.count_articles(),
            "pending_index": store.count_pending_index(),
            "indexed_in_backend": backend.count(),
        }
    finally:
        backend.close()
        store.close()


def reindex(
    settings: Settings,
    progress: Progress | None = None,
    backend: SearchBackend | None = None,
    pending_first: bool = False,
) -> int:
    """Rebuild the search index from state and switch to it with no empty moment.

    ``pending_first`` (the first build of a new, empty index) marks every
    article pending before the build, so a build killed halfway leaves them
    to the next ingest instead of counting them as indexed.
    """
    from pipeline.search.base import SearchRequest, open_backend
    from pipeline.search.docs import doc_from_article

    progress = progress or NoProgress()
    store = open_store(settings)
    own = backend is None
    if backend is None:
        backend = open_backend(settings, build=False)
    try:
        backend.ensure_ready()
        if pending_first:
            store.mark_all_pending_index()
        total = store.count_articles()
        progress.start("reindex", total)

        def docs():  # type: ignore[no-untyped-def]
            for row in store.iter_article_rows():
                progress.advance("reindex")
                yield doc_from_article(article_from_row(row), row.ingested_at)

        n = backend.rebuild(docs())
        # Only what the new index really holds counts as indexed; the rest stays
        # pending and the next ingest retries it.
        confirmed = set(backend.iter_ids(SearchRequest(query="")))
        store.mark_all_pending_index()
        store.mark_indexed(sorted(confirmed))
        progress.done("reindex")
        return n
    finally:
        if own:
            backend.close()
        store.close()
