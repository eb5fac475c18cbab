"""The Store: every read and write of state goes through these methods.

Writes are upserts or insert-if-absent keyed by ids derived from URLs, so two
processes (or a re-run after a crash) converge on the same rows. SQLite runs in
WAL mode with a busy timeout so a second process waits instead of failing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    func,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.config import Settings
from pipeline.dedup import item_id
from pipeline.errors import ConfigError, StateUnavailable
from pipeline.models import Article, Entity, Event, FeedItem, FeedSource, Page
from pipeline.store import migrate
from pipeline.store.tables import ArticleRow, FeedRow, ItemRow, PageRow, RunRow, RunStatRow

PERMANENT_REASONS = frozenset(
    {
        "refused_address",
        "robots_disallowed",
        "too_large",
        "not_html",
        "too_short",
        "too_many_redirects",
        "bad_url",
        "empty",
        "http_404",
        "http_410",
        "http_401",
        "http_403",
        "http_451",
    }
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _insert(engine: Engine):  # type: ignore[no-untyped-def]
    """The dialect's INSERT with ON CONFLICT support (SQLite and PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def article_from_row(row: ArticleRow) -> Article:
    return Article(
        id=row.id,
        url=row.url,
        canonical_url=row.canonical_url,
        source=row.source,
        title=row.title,
        text=row.text,
        lang=row.lang,
        authors=list(row.authors or []),
        published=row.published,
        date_source=row.date_source,  # type: ignore[arg-type]
        fetched_at=row.fetched_at,
        summary=row.summary,
        extraction_method=row.extraction_method,
        content_hash=row.content_hash,
        story_id=row.story_id,
        events=[
            Event(
                type=e["type"],
                confidence=float(e.get("confidence", 0)),
                evidence=e.get("evidence", ""),
                actors=list(e.get("actors", [])),
                places=list(e.get("places", [])),
                position=e.get("position", "body"),
                reported=bool(e.get("reported", True)),
            )
            for e in (row.events or [])
        ],
        entities=[
            Entity(id=e["id"], name=e["name"], type=e["type"], lat=e.get("lat"), lon=e.get("lon"))
            for e in (row.entities or [])
        ],
    )


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)
        self._insert = _insert(engine)
        self._batch: Session | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        if self._batch is not None:  # inside batch(): share its transaction
            yield self._batch
            return
        with self._session.begin() as s:
            yield s

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group many small writes into one transaction (one commit, not hundreds)."""
        if self._batch is not None:
            yield
            return
        with self._session.begin() as s:
            self._batch = s
            try:
                yield
            finally:
                self._batch = None

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------- feeds
    def sync_feeds(self, sources: Sequence[FeedSource]) -> None:
        with self.session() as s:
            for src in sources:
                stmt = self._insert(FeedRow).values(name=src.name, url=src.url, lang=src.lang)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["name"], set_={"url": src.url, "lang": src.lang}
                )
                s.execute(stmt)

    def feed_validators(self) -> dict[str, tuple[str | None, str | None]]:
        with self.session() as s:
            rows = s.execute(select(FeedRow.name, FeedRow.etag, FeedRow.last_modified)).all()
        return {name: (etag, lm) for name, etag, lm in rows}

    def feeds(self) -> list[FeedRow]:
        with self.session() as s:
            return list(s.scalars(select(FeedRow).order_by(FeedRow.name)))

    def record_poll(
        self,
        name: str,
        *,
        status: str,
        http_status: int | None,
        etag: str | None,
        last_modified: str | None,
        error: str | None,
        warning: str | None,
        new_items: int,
    ) -> None:
        now = utcnow()
        with self.session() as s:
            row = s.get(FeedRow, name, with_for_update=True)
            if row is None:
                return
            row.last_polled_at = now
            row.last_status = status
            row.last_http_status = http_status
            row.last_warning = warning
            if status == "failed":
                row.consecutive_errors = (row.consecutive_errors or 0) + 1
                row.last_error = error
            else:
                row.consecutive_errors = 0
                row.last_error = None
                row.last_success_at = now
                if status == "ok":
                    row.etag = etag
                    row.last_modified = last_modified
            if new_items:
                row.items_seen = (row.items_seen or 0) + new_items
                row.last_new_item_at = now

    # ---------------------------------------------------------------- items
    def add_items(
        self, items: Iterable[FeedItem], relinked: list[FeedItem] | None = None
    ) -> list[str]:
        """Insert items not seen before; returns the ids that were new.

        A feed that reuses a guid for a different link (a recycled guid, a
        CMS that numbers entries per day) is publishing a new article: it is
        stored as a new item keyed by (guid, link) and appended to
        ``relinked`` so the caller can warn, naming the feed.
        """
        now = utcnow()
        new: list[str] = []
        with self.session() as s:
            for it in items:
                iid = it.item_id
                known = s.scalar(select(ItemRow.link).where(ItemRow.id == iid))
                if known is not None and known != it.link:
                    iid = item_id(it.feed, f"{it.guid}\x1f{it.link}")
                    if s.get(ItemRow, iid) is None and relinked is not None:
                        relinked.append(it)
                elif known is not None:
                    continue
                stmt = (
                    self._insert(ItemRow)
                    .values(
                        id=iid,
                        feed=it.feed,
                        guid=it.guid or it.link,
                        link=it.link,
                        title=it.title,
                        summary=it.summary,
                        published=it.published,
                        lang=it.lang,
                        first_seen_at=now,
                        status="pending",
                        attempts=0,
                    )
                    .on_conflict_do_nothing(index_elements=["id"])
                    # RETURNING, not rowcount: with psycopg 3 + SQLAlchemy 2.1 the
                    # rowcount of INSERT .. ON CONFLICT is -1 on PostgreSQL.
                    .returning(ItemRow.id)
                )
                if s.execute(stmt).first() is not None:
                    new.append(iid)
        return new

    def pending_item_ids(
        self, max_attempts: int, feed: str | None = None, limit: int | None = None
    ) -> list[str]:
        q = select(ItemRow.id).where(ItemRow.status == "pending", ItemRow.attempts < max_attempts)
        if feed:
            q = q.where(ItemRow.feed == feed)
        q = q.order_by(ItemRow.first_seen_at, ItemRow.id)
        if limit:
            q = q.limit(limit)
        with self.session() as s:
            return list(s.scalars(q))

    def get_items(self, ids: Sequence[str]) -> list[ItemRow]:
        with self.session() as s:
            return list(s.scalars(select(ItemRow).where(ItemRow.id.in_(list(ids)))))

    def item_to_feed_item(self, row: ItemRow) -> FeedItem:
        return FeedItem(
            feed=row.feed,
            guid=row.guid,
            link=row.link,
            title=row.title,
            summary=row.summary,
            published=row.published,
            lang=row.lang,
        )

    def mark_item(
        self,
        item_id: str,
        *,
        status: str,
        reason: str | None = None,
        detail: str | None = None,
        article_id: str | None = None,
        attempt: bool = True,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "reason": reason,
            "detail": detail,
            "updated_at": utcnow(),
            "lease_owner": None,
            "lease_until": None,
        }
        if article_id:
            values["article_id"] = article_id
        if attempt:
            values["attempts"] = ItemRow.attempts + 1
        with self.session() as s:
            s.execute(update(ItemRow).where(ItemRow.id == item_id).values(**values))

    def claim_items(self, ids: Sequence[str], owner: str, until: datetime) -> list[str]:
        """Lease the pending items of ``ids`` to ``owner`` until ``until``; the ids claimed.

        One UPDATE per batch, conditional on the item being pending and not
        leased to someone else (or its lease expired): the database decides
        who wins, so two ingests or two Airflow fetch tasks on one state
        fetch each page once. A lease ends when the item is marked, when
        its owner releases it, or at ``until`` (an owner that died).
        """
        now = utcnow()
        claimed: list[str] = []
        ids = list(ids)
        for i in range(0, len(ids), 500):
            with self.session() as s:
                stmt = (
                    update(ItemRow)
                    .where(
                        ItemRow.id.in_(ids[i : i + 500]),
                        ItemRow.status == "pending",
                        (ItemRow.lease_until.is_(None))
                        | (ItemRow.lease_until < now)
                        | (ItemRow.lease_owner == owner),
                    )
                    .values(lease_owner=owner, lease_until=until)
                    .returning(ItemRow.id)
                )
                claimed.extend(s.scalars(stmt))
        return claimed

    def release_items(self, owner_prefix: str) -> int:
        """End the leases held by an owner (or every owner starting with the prefix)."""
        with self.session() as s:
            res = s.execute(
                update(ItemRow)
                .where(
                    (ItemRow.lease_owner == owner_prefix)
                    | ItemRow.lease_owner.startswith(owner_prefix + "/", autoescape=True)
                )
                .values(lease_owner=None, lease_until=None)
            )
            return res.rowcount or 0

    def failed_items(self) -> list[ItemRow]:
        with self.session() as s:
            return list(
                s.scalars(select(ItemRow).where(ItemRow.status == "failed").order_by(ItemRow.id))
            )

    def retry_failed_items(self) -> int:
        with self.session() as s:
            res = s.execute(
                update(ItemRow)
                .where(ItemRow.status == "failed")
                .values(status="pending", attempts=0, updated_at=utcnow())
            )
            return res.rowcount or 0

    def item_counts(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(ItemRow.status, func.count()).group_by(ItemRow.status)).all()
        return {status: n for status, n in rows}

    # ---------------------------------------------------------------- pages
    @staticmethod
    def _page_values(page: Page) -> dict[str, Any]:
        return {
            "url": page.url,
            "final_url": page.final_url,
            "status": page.status,
            "headers": page.headers,
            "body": zlib.compress(page.body, 3),
            "fetched_at": page.fetched_at,
        }

    def save_page(self, item_id: str, page: Page) -> None:
        self.save_pages([(item_id, page)])

    def save_pages(self, pages: Sequence[tuple[str, Page]]) -> None:
        """Upsert raw pages in one statement executed over all rows (not one per page).

        The last page given for an item wins, as with one upsert after another.
        """
        rows = {item_id: {"item_id": item_id, **self._page_values(p)} for item_id, p in pages}
        if not rows:
            return
        stmt = self._insert(PageRow)
        columns = ("url", "final_url", "status", "headers", "body", "fetched_at")
        stmt = stmt.on_conflict_do_update(
            index_elements=["item_id"], set_={c: stmt.excluded[c] for c in columns}
        )
        with self.session() as s:
            s.execute(stmt, list(rows.values()))

    def load_page(self, item_id: str) -> Page | None:
        with self.session() as s:
            row = s.get(PageRow, item_id)
            if row is None:
                return None
            return Page(
                url=row.url,
                final_url=row.final_url,
                status=row.status,
                headers=dict(row.headers or {}),
                body=zlib.decompress(row.body),
                fetched_at=row.fetched_at,
            )

    def prune_pages(self, older_than: timedelta) -> int:
        with self.session() as s:
            res = s.execute(delete(PageRow).where(PageRow.fetched_at < utcnow() - older_than))
            return res.rowcount or 0

    # ---------------------------------------------------------------- articles
    def article_exists(self, article_id: str) -> bool:
        with self.session() as s:
            return s.get(ArticleRow, article_id) is not None

    def existing_article_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        if not ids:
            return set()
        with self.session() as s:
            return set(s.scalars(select(ArticleRow.id).where(ArticleRow.id.in_(ids))))

    def lock_for_article(self, item_id: str, content_hash: str) -> None:
        """Serialise "is this text already stored?" with the insert that follows.

        Two processes that fetch two exact copies of one text at the same time
        (leases give them different items) would each find no article with
        that content hash and both insert. So, inside the caller's
        transaction: on PostgreSQL an advisory lock on the hash; on SQLite a
        first write (the item's ``updated_at``), which takes the database's
        write lock before the hash is read. Both last until the commit.
        """
        with self.session() as s:
            if self.engine.dialect.name == "postgresql":
                s.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:h, 0))"),
                    {"h": content_hash},
                )
            else:
                s.execute(update(ItemRow).where(ItemRow.id == item_id).values(updated_at=utcnow()))

    def article_with_hash(self, content_hash: str, exclude_id: str) -> str | None:
        with self.session() as s:
            return s.scalar(
                select(ArticleRow.id)
                .where(ArticleRow.content_hash == content_hash, ArticleRow.id != exclude_id)
                .limit(1)
            )

    def save_article(self, article: Article, tagged: bool = False) -> bool:
        """Insert a new article; an existing id is left as it is. True if inserted.

        ``tagged``: language, entities and events are already set (tagged in the
        extraction worker); the story id is still to be assigned.
        """
        rec = article.record()
        values = {
            k: v for k, v in rec.items() if k not in ("id", "published", "fetched_at", "events")
        }
        values.update(
            published=article.published,
            fetched_at=article.fetched_at,
            events=rec["events"],
            enriched=tagged,
            story_id="",
            index_state="pending",
            ingested_at=utcnow(),
        )
        with self.session() as s:
            stmt = self._insert(ArticleRow).values(id=article.id, **values)
            stmt = stmt.on_conflict_do_nothing(index_elements=["id"]).returning(ArticleRow.id)
            return s.execute(stmt).first() is not None  # rowcount is -1 on PostgreSQL

    def update_enrichment(
        self,
        article_id: str,
        *,
        lang: str | None,
        story_id: str,
        events: list[dict[str, Any]],
        entities: list[dict[str, Any]],
    ) -> None:
        with self.session() as s:
            s.execute(
                update(ArticleRow)
                .where(ArticleRow.id == article_id)
                .values(
                    lang=lang,
                    story_id=story_id,
                    events=events,
                    entities=entities,
                    enriched=True,
                    index_state="pending",
                )
            )

    def set_story(self, article_id: str, story_id: str) -> None:
        """Move an article to another story; it must be indexed again."""
        with self.session() as s:
            s.execute(
                update(ArticleRow)
                .where(ArticleRow.id == article_id)
                .values(story_id=story_id, index_state="pending")
            )

    def unenriched_ids(self) -> list[str]:
        """Articles still to tag (``enriched`` false) or to put in a story (no story id)."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(ArticleRow.id)
                    .where((ArticleRow.enriched.is_(False)) | (ArticleRow.story_id == ""))
                    .order_by(ArticleRow.ingested_at, ArticleRow.id)
                )
            )

    def count_untagged(self, ids: Sequence[str]) -> int:
        n = 0
        with self.session() as s:
            for i in range(0, len(ids), 1000):
                n += (
                    s.scalar(
                        select(func.count())
                        .select_from(ArticleRow)
                        .where(
                            ArticleRow.id.in_(list(ids[i : i + 1000])),
                            ArticleRow.enriched.is_(False),
                        )
                    )
                    or 0
                )
        return n

    def recent_story_texts(self, limit: int = 5000) -> list[tuple[str, str, str]]:
        with self.session() as s:
            rows = s.execute(
                select(ArticleRow.id, ArticleRow.story_id, ArticleRow.text)
                .where(ArticleRow.story_id != "")
                .order_by(ArticleRow.ingested_at.desc())
                .limit(limit)
            ).all()
        return [(a, b, c) for a, b, c in rows]

    def get_article_row(self, article_id: str) -> ArticleRow | None:
        with self.session() as s:
            return s.get(ArticleRow, article_id)

    def get_article(self, article_id: str) -> Article | None:
        row = self.get_article_row(article_id)
        return article_from_row(row) if row else None

    def pending_index_ids(self, limit: int | None = None) -> list[str]:
        q = (
            select(ArticleRow.id)
            .where(
                ArticleRow.index_state == "pending",
                ArticleRow.enriched.is_(True),
                ArticleRow.story_id != "",
            )
            .order_by(ArticleRow.ingested_at, ArticleRow.id)
        )
        if limit:
            q = q.limit(limit)
        with self.session() as s:
            return list(s.scalars(q))

    def count_pending_index(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).where(ArticleRow.index_state == "pending")) or 0

    def mark_indexed(self, ids: Sequence[str], errors: dict[str, str] | None = None) -> None:
        now = utcnow()
        ids = list(ids)
        with self.session() as s:
            for i in range(0, len(ids), 1000):  # stay under the bound-parameter limits
                s.execute(
                    update(ArticleRow)
                    .where(ArticleRow.id.in_(ids[i : i + 1000]))
                    .values(index_state="indexed", indexed_at=now, index_error=None)
                )
            for art_id, reason in (errors or {}).items():
                s.execute(
                    update(ArticleRow).where(ArticleRow.id == art_id).values(index_error=reason)
                )

    def mark_all_pending_index(self) -> int:
        with self.session() as s:
            res = s.execute(update(ArticleRow).values(index_state="pending"))
            return res.rowcount or 0

    def iter_article_rows(
        self, ids: Sequence[str] | None = None, batch: int = 500
    ) -> Iterator[ArticleRow]:
        """Stream articles in id order, a batch per query, so memory stays flat."""
        if ids is not None:
            for i in range(0, len(ids), batch):
                with self.session() as s:
                    chunk = list(ids[i : i + batch])
                    rows = {
                        r.id: r
                        for r in s.scalars(select(ArticleRow).where(ArticleRow.id.in_(chunk)))
                    }
                for art_id in chunk:
                    if art_id in rows:
                        yield rows[art_id]
            return
        last = ""
        while True:
            with self.session() as s:
                rows = list(
                    s.scalars(
                        select(ArticleRow)
                        .where(ArticleRow.id > last)
                        .order_by(ArticleRow.id)
                        .limit(batch)
                    )
                )
            if not rows:
                return
            yield from rows
            last = rows[-1].id

    def iter_filtered_rows(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        sources: Sequence[str] = (),
        langs: Sequence[str] = (),
        batch: int = 500,
    ) -> Iterator[ArticleRow]:
        """Every article matching the filters, in id order, one batch per query."""
        last = ""
        while True:
            q = select(ArticleRow).where(ArticleRow.id > last)
            if since is not None:
                q = q.where(ArticleRow.published >= since)
            if until is not None:
                q = q.where(ArticleRow.published < until)
            if sources:
                q = q.where(ArticleRow.source.in_(list(sources)))
            if langs:
                q = q.where(ArticleRow.lang.in_(list(langs)))
            with self.session() as s:
                rows = list(s.scalars(q.order_by(ArticleRow.id).limit(batch)))
            if not rows:
                return
            yield from rows
            last = rows[-1].id

    def count_articles(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(ArticleRow)) or 0

    # ---------------------------------------------------------------- runs
    def start_run(self, run_id: str, owner: dict[str, Any] | None = None) -> None:
        """A new ``running`` run; ``owner`` (host, pid) lets a later run tell it died."""
        with self.session() as s:
            s.add(
                RunRow(
                    id=run_id,
                    started_at=utcnow(),
                    status="running",
                    summary={"owner": owner} if owner else {},
                )
            )

    def running_runs(self) -> list[RunRow]:
        with self.session() as s:
            return list(s.scalars(select(RunRow).where(RunRow.status == "running")))

    def mark_run_killed(self, run_id: str, note: str) -> bool:
        """Close a run whose process died without closing it; True if this call closed it."""
        with self.session() as s:
            res = s.execute(
                update(RunRow)
                .where(RunRow.id == run_id, RunRow.status == "running")
                .values(status="killed", finished_at=utcnow(), summary={"note": note})
            )
            return bool(res.rowcount)

    def update_run(self, run_id: str, summary: dict[str, Any], status: str | None = None) -> None:
        with self.session() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                return
            row.summary = summary
            if status:
                row.status = status
                row.finished_at = utcnow()

    def add_run_stat(
        self, run_id: str | None, stage: str, data: dict[str, Any], seconds: float
    ) -> None:
        if not run_id:
            return
        with self.session() as s:
            s.add(
                RunStatRow(
                    run_id=run_id, stage=stage, data=data, seconds=seconds, created_at=utcnow()
                )
            )

    def run_stats(self, run_id: str) -> list[RunStatRow]:
        with self.session() as s:
            return list(
                s.scalars(
                    select(RunStatRow).where(RunStatRow.run_id == run_id).order_by(RunStatRow.id)
                )
            )

    def get_run(self, run_id: str) -> RunRow | None:
        with self.session() as s:
            return s.get(RunRow, run_id)

    def last_run(self) -> RunRow | None:
        with self.session() as s:
            return s.scalar(select(RunRow).order_by(RunRow.started_at.desc()).limit(1))


def _shown_url(url: str) -> str:
    """The database URL as it may be printed: never with its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "a value that is not a URL"


def open_store(settings: Settings) -> Store:
    """Connect, migrate to the current schema, and return the Store.

    A database URL that names no usable database, or a database that cannot be
    reached or opened, is a clean error naming NEWSWATCH_DATABASE_URL.
    """
    url = settings.resolved_database_url
    try:
        engine = make_engine(url)
    except (ArgumentError, ImportError) as exc:  # NoSuchModuleError is an ArgumentError
        raise ConfigError(
            f"NEWSWATCH_DATABASE_URL: cannot use {_shown_url(url)} as a database ({exc}); "
            "use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB"
        ) from None
    try:
        migrate.upgrade(engine)
    except (OperationalError, DBAPIError) as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StateUnavailable(
            f"cannot open the state database {_shown_url(url)} ({reason}); check "
            "NEWSWATCH_DATABASE_URL and that the database is running and writable"
        ) from None
    return Store(engine)
