"""The embedded search backend: SQLite FTS5 tables beside the state tables.

Nothing to install or start. The tables live in the state file under names
prefixed ``search_`` and are reached with the stdlib ``sqlite3`` module (not
the SQLAlchemy state layer), so the index can be dropped and rebuilt from
state without touching anything else:

- ``search_docs``: one row per document; ``rid`` is an INTEGER PRIMARY KEY so
  the row id that binds the three tables never changes (a VACUUM may renumber
  implicit row ids); list fields are JSON text; dates are integer
  microseconds since the epoch (UTC) so they compare and sort as numbers.
- ``search_fts``: FTS5 over the four token streams of the one shared
  tokenizer (:func:`docs.token_fields`): ``title_tok``, ``text_tok`` (exact
  forms: quoted phrases, wildcards) and ``title_stem``, ``text_stem`` (light
  stems: bare words, proximity ``NEAR``); row id = ``search_docs.rid``. The
  streams are space-joined tokens, so FTS5's own ``unicode61`` tokenizer
  only splits them on spaces.
- ``search_terms``: (field, value, rid) for every keyword field, values in
  the canonical form of :func:`query.keyword_value`.

Boolean logic is compiled to SQL from the backend-neutral tree of
:mod:`pipeline.search.ast` (the same tree the Elasticsearch backend compiles):
each word or phrase is a ``rid IN (... MATCH ?)`` subquery, so AND/OR/NOT are
plain SQL and every value is a bound parameter.

Collapse counts stories: with ``collapse=True`` ``total`` is the number of
distinct stories and each hit is the best-ranked report of its story; facets
still count documents.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import BackendUnavailable, QueryError
from pipeline.search import ast
from pipeline.search.base import IndexReport, SearchDoc, SearchHit, SearchRequest, SearchResult
from pipeline.search.docs import from_us, to_us, token_fields
from pipeline.search.query import (
    Resolver,
    filters_node,
    keyword_value,
    parse_query,
    positive_nodes,
)
from pipeline.search.snippets import snippet_for

NULL_DATE_KEY = -(2**62)  # sorts after every real date in descending order
TITLE_WEIGHT = 5.0
TEXT_WEIGHT = 1.0
FACET_SIZE = 20
BATCH = 500
FTS_COLUMNS = ("title_tok", "text_tok", "title_stem", "text_stem")

_DOC_COLUMNS = (
    "id",
    "title",
    "text",
    "url",
    "source",
    "lang",
    "published_us",
    "ingested_us",
    "story_id",
    "summary",
    "events",
    "entities",
    "persons",
    "orgs",
    "actors",
    "places",
    "entity_records",
    "geo",
)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS search_docs (
        rid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        lang TEXT,
        published_us INTEGER,
        ingested_us INTEGER NOT NULL,
        story_id TEXT NOT NULL,
        summary TEXT NOT NULL,
        events TEXT NOT NULL,
        entities TEXT NOT NULL,
        persons TEXT NOT NULL,
        orgs TEXT NOT NULL,
        actors TEXT NOT NULL,
        places TEXT NOT NULL,
        entity_records TEXT NOT NULL,
        geo TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS search_docs_published ON search_docs(published_us)",
    "CREATE INDEX IF NOT EXISTS search_docs_ingested ON search_docs(ingested_us)",
    "CREATE INDEX IF NOT EXISTS search_docs_story ON search_docs(story_id)",
    """CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
        title_tok, text_tok, title_stem, text_stem, tokenize = 'unicode61 remove_diacritics 0'
    )""",
    """CREATE TABLE IF NOT EXISTS search_terms (
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        rid INTEGER NOT NULL,
        PRIMARY KEY (field, value, rid)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS search_terms_rid ON search_terms(rid)",
)
_TABLES = ("search_terms", "search_fts", "search_docs")


# --------------------------------------------------------------------------- pure helpers


def fts_quote(text: str) -> str:
    """An FTS5 string literal: whatever ``text`` holds, it is data, never syntax."""
    return '"' + text.replace('"', '""') + '"'


def fts_columns(fields: tuple[str, ...], exact: bool) -> str:
    kind = "tok" if exact else "stem"
    cols = [f"{f}_{kind}" for f in ("title", "text") if f in fields]
    return cols[0] if len(cols) == 1 else "{" + " ".join(cols) + "}"


def fts_expr(node: ast.Term | ast.Phrase) -> str:
    """One word, prefix, phrase or NEAR group as an FTS5 MATCH expression with its columns."""
    if isinstance(node, ast.Term):
        body = fts_quote(node.value) + (" *" if node.prefix else "")
    elif node.slop:
        body = "NEAR(" + " ".join(fts_quote(w) for w in node.words) + f", {node.slop})"
    else:
        body = fts_quote(" ".join(node.words))
    return f"{fts_columns(node.fields, node.exact)} : {body}"


def rank_expr(node: ast.Node) -> str | None:
    """The MATCH expression that scores and highlights: every positive word, ORed."""
    parts = [f"({fts_expr(n)})" for n in positive_nodes(node)]
    return " OR ".join(parts) if parts else None


_DATE_COLUMNS = {"published": "d.published_us", "ingested": "d.ingested_us"}


def compile_node(node: ast.Node) -> tuple[str, list[Any]]:
    """Tree -> (SQL boolean expression over ``search_docs d``, parameters).

    Every branch is TRUE or FALSE, never NULL, so NOT behaves as the query
    says (a document without a date is outside any date range, and inside
    its negation).
    """
    if isinstance(node, ast.MatchAll):
        return "1", []
    if isinstance(node, ast.Term | ast.Phrase):
        sql = "d.rid IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)"
        return sql, [fts_expr(node)]
    if isinstance(node, ast.Keyword):
        if node.prefix and not node.value:
            return "d.rid IN (SELECT rid FROM search_terms WHERE field = ?)", [node.field]
        if node.prefix:
            sql = (
                "d.rid IN (SELECT rid FROM search_terms "
                "WHERE field = ? AND value >= ? AND value < ?)"
            )
            return sql, [node.field, node.value, node.value + "\U0010ffff"]
        sql = "d.rid IN (SELECT rid FROM search_terms WHERE field = ? AND value = ?)"
        return sql, [node.field, node.value]
    if isinstance(node, ast.DateRange):
        col = _DATE_COLUMNS[node.field]
        parts, params = [f"{col} IS NOT NULL"], []
        if node.start is not None:
            parts.append(f"{col} {'>=' if node.include_start else '>'} ?")
            params.append(to_us(node.start))
        if node.end is not None:
            parts.append(f"{col} {'<=' if node.include_end else '<'} ?")
            params.append(to_us(node.end))
        return "(" + " AND ".join(parts) + ")", params
    if isinstance(node, ast.Not):
        sql, params = compile_node(node.item)
        return f"NOT ({sql})", params
    if isinstance(node, ast.And | ast.Or):
        joiner = " AND " if isinstance(node, ast.And) else " OR "
        sqls, params = [], []
        for item in node.items:
            s, p = compile_node(item)
            sqls.append(f"({s})")
            params.extend(p)
        return joiner.join(sqls), params
    raise QueryError(f"unsupported query node {type(node).__name__}")


def encode_cursor(sort: str, key: list[Any]) -> str:
    raw = json.dumps({"s": sort, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        key = data["k"]
        ok = data["s"] == sort and isinstance(key, list)
        ok = ok and len(key) == (3 if sort == "relevance" else 2)
    except (ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        raise QueryError("the paging cursor is not valid for this search; start again")
    return key


def doc_terms(doc: SearchDoc) -> list[tuple[str, str]]:
    """(field, canonical value) pairs a document is findable by on keyword fields."""
    pairs: list[tuple[str, str]] = [("source", doc.source), ("story", doc.story_id)]
    if doc.lang:
        pairs.append(("lang", doc.lang))
    for field, values in (
        ("event", doc.events),
        ("entity", doc.entities),
        ("person", doc.persons),
        ("org", doc.orgs),
        ("actor", doc.actors),
        ("place", doc.places),
    ):
        pairs.extend((field, v) for v in values)
    return sorted({(f, keyword_value(f, v)) for f, v in pairs if v})


def doc_row(doc: SearchDoc) -> tuple[Any, ...]:
    return (
        doc.id,
        doc.title,
        doc.text,
        doc.url,
        doc.source,
        doc.lang,
        to_us(doc.published),
        to_us(doc.ingested_at),
        doc.story_id or doc.id,
        doc.summary,
        json.dumps(list(doc.events), ensure_ascii=False),
        json.dumps(list(doc.entities), ensure_ascii=False),
        json.dumps(list(doc.persons), ensure_ascii=False),
        json.dumps(list(doc.orgs), ensure_ascii=False),
        json.dumps(list(doc.actors), ensure_ascii=False),
        json.dumps(list(doc.places), ensure_ascii=False),
        json.dumps(doc.entity_records, ensure_ascii=False),
        json.dumps([list(g) for g in doc.geo]),
    )


# --------------------------------------------------------------------------- backend


class SqliteBackend:
    """SearchBackend on SQLite FTS5 (see the module docstring for the tables)."""

    name = "sqlite"

    def __init__(
        self, path: str | Path, resolve: Resolver | None = None, *, timeout: float = 10.0
    ) -> None:
        self.path = str(path)
        self.resolve = resolve
        self.timeout = timeout
        self.created = False  # True when this process created (or renewed) empty tables
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = self._connect()
        self.ensure_ready()

    # connections ----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=30, check_same_thread=False, isolation_level=None
            )
            conn.execute("PRAGMA busy_timeout = 30000")
            # Another connection may hold the file; it then keeps its journal mode.
            with contextlib.suppress(sqlite3.OperationalError):
                conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"cannot open search database {self.path}: {exc}") from exc
        return conn

    def ensure_ready(self) -> None:
        with self._lock:
            try:
                self._create(self._conn)
            except sqlite3.Error as exc:
                raise BackendUnavailable(f"cannot create search tables: {exc}") from exc

    def _create(self, conn: sqlite3.Connection) -> None:
        """Create the tables; an index of an older layout is dropped (rebuilt from state)."""
        cols = [r[1] for r in conn.execute("PRAGMA table_info(search_fts)")]
        if cols and tuple(cols) != FTS_COLUMNS:
            for table in _TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            cols = []
        if not cols:
            self.created = True
        for stmt in _SCHEMA:
            conn.execute(stmt)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # writes ---------------------------------------------------------------

    @staticmethod
    def _write_doc(conn: sqlite3.Connection, doc: SearchDoc) -> None:
        """Replace one document in all three tables (caller holds the transaction)."""
        row = doc_row(doc)
        found = conn.execute("SELECT rid FROM search_docs WHERE id = ?", (doc.id,)).fetchone()
        if found:
            rid = found[0]
            conn.execute("DELETE FROM search_fts WHERE rowid = ?", (rid,))
            conn.execute("DELETE FROM search_terms WHERE rid = ?", (rid,))
            sets = ", ".join(f"{c} = ?" for c in _DOC_COLUMNS[1:])
            conn.execute(f"UPDATE search_docs SET {sets} WHERE rid = ?", (*row[1:], rid))
        else:
            cols = ", ".join(_DOC_COLUMNS)
            marks = ", ".join("?" for _ in _DOC_COLUMNS)
            rid = conn.execute(f"INSERT INTO search_docs ({cols}) VALUES ({marks})", row).lastrowid
        toks = token_fields(doc)
        conn.execute(
            "INSERT INTO search_fts (rowid, title_tok, text_tok, title_stem, text_stem) "
            "VALUES (?, ?, ?, ?, ?)",
            (rid, *(toks[c] for c in FTS_COLUMNS)),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO search_terms (field, value, rid) VALUES (?, ?, ?)",
            [(f, v, rid) for f, v in doc_terms(doc)],
        )

    def _write_batch(
        self, conn: sqlite3.Connection, batch: list[SearchDoc], report: IndexReport
    ) -> None:
        done: list[str] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for doc in batch:
                conn.execute("SAVEPOINT one")
                try:
                    self._write_doc(conn, doc)
                except (sqlite3.Error, TypeError, ValueError, AttributeError) as exc:
                    conn.execute("ROLLBACK TO one")
                    report.errors[str(getattr(doc, "id", "?"))] = f"{type(exc).__name__}: {exc}"
                else:
                    done.append(doc.id)
                conn.execute("RELEASE one")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for doc_id in done:
                report.errors[doc_id] = f"not committed: {exc}"
            return
        report.indexed.extend(done)

    def upsert(self, docs: Iterable[SearchDoc]) -> IndexReport:
        """Insert or replace by id, in batches; ids are reported only after their commit."""
        report = IndexReport()
        batch: list[SearchDoc] = []
        with self._lock:
            for doc in docs:
                batch.append(doc)
                if len(batch) >= BATCH:
                    self._write_batch(self._conn, batch, report)
                    batch = []
            if batch:
                self._write_batch(self._conn, batch, report)
        return report

    def delete(self, ids: Iterable[str]) -> None:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for doc_id in ids:
                    found = conn.execute(
                        "SELECT rid FROM search_docs WHERE id = ?", (doc_id,)
                    ).fetchone()
                    if not found:
                        continue
                    conn.execute("DELETE FROM search_fts WHERE rowid = ?", found)
                    conn.execute("DELETE FROM search_terms WHERE rid = ?", found)
                    conn.execute("DELETE FROM search_docs WHERE rid = ?", found)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def rebuild(self, docs: Iterable[SearchDoc]) -> int:
        """Fresh tables filled and swapped in by one transaction on a second connection.

        WAL readers keep seeing the old tables until the commit, so searches
        answer from the old index during the whole build and from the new one
        right after: there is no empty moment.
        """
        conn = self._connect()
        n = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            for table in _TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            self._create(conn)
            report = IndexReport()
            for doc in docs:
                conn.execute("SAVEPOINT one")
                try:
                    self._write_doc(conn, doc)
                    n += 1
                except (sqlite3.Error, TypeError, ValueError, AttributeError) as exc:
                    conn.execute("ROLLBACK TO one")
                    report.errors[str(getattr(doc, "id", "?"))] = str(exc)
                conn.execute("RELEASE one")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
        return n

    # reads ----------------------------------------------------------------

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM search_docs").fetchone()[0]

    def _tree(self, request: SearchRequest) -> ast.Node:
        query = parse_query(request.query, self.resolve)
        filters = filters_node(request)
        if isinstance(filters, ast.MatchAll):
            return query
        return ast.And((query, filters))

    def _run(self, conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[tuple]:
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise _translate(exc, self.timeout) from None

    @contextlib.contextmanager
    def _budget(self, conn: sqlite3.Connection) -> Iterator[None]:
        """Interrupt a statement that runs past the search time budget (progress handler)."""
        deadline = time.monotonic() + self.timeout
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        try:
            yield
        finally:
            conn.set_progress_handler(None, 0)

    def iter_ids(self, request: SearchRequest) -> Iterator[str]:
        """Every matching id, streamed from a private connection (one consistent snapshot)."""
        node = self._tree(request)
        cond, params = compile_node(node)
        conn = self._connect()
        try:
            try:
                cur = conn.execute(f"SELECT d.id FROM search_docs d WHERE {cond}", params)
            except sqlite3.OperationalError as exc:
                raise _translate(exc, self.timeout) from None
            while rows := cur.fetchmany(1000):
                for (doc_id,) in rows:
                    yield doc_id
        finally:
            conn.close()

    def search(self, request: SearchRequest) -> SearchResult:
        node = self._tree(request)
        cond, cparams = compile_node(node)
        rank = rank_expr(node)
        if rank:
            join = (
                "LEFT JOIN (SELECT rowid AS rid, "
                f"-bm25(search_fts, {TITLE_WEIGHT}, {TEXT_WEIGHT}, {TITLE_WEIGHT}, {TEXT_WEIGHT}) "
                "AS score "
                "FROM search_fts WHERE search_fts MATCH ?) r ON r.rid = d.rid"
            )
            score, jparams = "COALESCE(r.score, 0.0)", [rank]
        else:
            join, score, jparams = "", "0.0", []
        if request.sort == "date":
            order, key_cols = "pkey DESC, id ASC", ("pkey", "id")
        else:
            order, key_cols = "score DESC, pkey DESC, id ASC", ("score", "pkey", "id")
        base = (
            f"SELECT d.rid AS rid, d.id AS id, {score} AS score, "
            f"COALESCE(d.published_us, {NULL_DATE_KEY}) AS pkey, d.story_id AS skey "
            f"FROM search_docs d {join} WHERE {cond}"
        )
        base_params = [*jparams, *cparams]
        if request.collapse:
            ranked = (
                f"SELECT *, ROW_NUMBER() OVER (PARTITION BY skey ORDER BY {order}) AS rn, "
                f"COUNT(*) OVER (PARTITION BY skey) - 1 AS others FROM ({base})"
            )
            final = f"SELECT * FROM ({ranked}) WHERE rn = 1"
            count_sql = f"SELECT COUNT(DISTINCT d.story_id) FROM search_docs d WHERE {cond}"
        else:
            final = f"SELECT *, 0 AS others FROM ({base})"
            count_sql = f"SELECT COUNT(*) FROM search_docs d WHERE {cond}"
        where, wparams = "", []
        offset = max(request.offset, 0)
        if request.cursor:
            key = decode_cursor(request.cursor, request.sort)
            where, wparams = _keyset(key_cols, key)
            offset = 0
        limit = max(request.limit, 0)
        page_sql = (
            f"SELECT rid, id, score, pkey, others FROM ({final}) {where} "
            f"ORDER BY {order} LIMIT ? OFFSET ?"
        )
        with self._lock, self._budget(self._conn):
            conn = self._conn
            total = self._run(conn, count_sql, cparams)[0][0]
            rows = self._run(conn, page_sql, [*base_params, *wparams, limit + 1, offset])
            more = len(rows) > limit
            rows = rows[:limit]
            hits = self._hits(conn, rows, positive_nodes(node))
            facets = self._facets(conn, cond, cparams) if request.facets else {}
        next_cursor = None
        if more and rows:
            last = rows[-1]
            values = {"score": last[2], "pkey": last[3], "id": last[1]}
            next_cursor = encode_cursor(request.sort, [values[c] for c in key_cols])
        return SearchResult(total=total, hits=hits, facets=facets, next_cursor=next_cursor)

    def _hits(
        self, conn: sqlite3.Connection, rows: list[tuple], nodes: list[ast.Term | ast.Phrase]
    ) -> list[SearchHit]:
        if not rows:
            return []
        rids = [r[0] for r in rows]
        marks = ", ".join("?" for _ in rids)
        docs = {
            r[0]: r
            for r in self._run(
                conn,
                "SELECT rid, id, title, url, source, lang, published_us, story_id, events, "
                f"entity_records, text FROM search_docs WHERE rid IN ({marks})",
                rids,
            )
        }
        hits = []
        for rid, _doc_id, score, _pkey, others in rows:
            d = docs[rid]
            hits.append(
                SearchHit(
                    id=d[1],
                    title=d[2],
                    url=d[3],
                    source=d[4],
                    lang=d[5],
                    published=from_us(d[6]),
                    score=float(score),
                    snippet=snippet_for(d[10], nodes),
                    story_id=d[7],
                    events=json.loads(d[8]),
                    entities=json.loads(d[9]),
                    collapsed=int(others),
                )
            )
        return hits

    def _facets(
        self, conn: sqlite3.Connection, cond: str, params: list[Any]
    ) -> dict[str, list[tuple[str, int]]]:
        """Counts over every match (not just the page): top 20 per facet, every day."""
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS search_match (rid INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM temp.search_match")
        try:
            conn.execute(
                f"INSERT INTO temp.search_match SELECT d.rid FROM search_docs d WHERE {cond}",
                params,
            )
        except sqlite3.OperationalError as exc:
            raise _translate(exc, self.timeout) from None
        top = f"ORDER BY 2 DESC, 1 ASC LIMIT {FACET_SIZE}"
        joined = "FROM search_docs d JOIN temp.search_match m ON m.rid = d.rid"
        queries = {
            "source": (f"SELECT d.source, COUNT(*) {joined} GROUP BY 1 {top}", []),
            "lang": (
                f"SELECT d.lang, COUNT(*) {joined} WHERE d.lang IS NOT NULL GROUP BY 1 {top}",
                [],
            ),
            "day": (
                "SELECT strftime('%Y-%m-%d', d.published_us / 1000000, 'unixepoch'), COUNT(*) "
                f"{joined} WHERE d.published_us IS NOT NULL GROUP BY 1 ORDER BY 1",  # every day
                [],
            ),
        }
        for facet in ("event", "place", "entity"):
            queries[facet] = (
                "SELECT t.value, COUNT(*) FROM search_terms t "
                "JOIN temp.search_match m ON m.rid = t.rid "
                f"WHERE t.field = ? GROUP BY 1 {top}",
                [facet],
            )
        out = {
            name: [(str(v), int(n)) for v, n in conn.execute(sql, p)]
            for name, (sql, p) in queries.items()
        }
        conn.execute("DELETE FROM temp.search_match")
        return out


def _keyset(cols: tuple[str, ...], key: list[Any]) -> tuple[str, list[Any]]:
    """WHERE clause for "after this sort key" (descending score/date, ascending id)."""
    direction = {"score": "<", "pkey": "<", "id": ">"}
    clauses, params = [], []
    for i, col in enumerate(cols):
        eqs = [f"{c} = ?" for c in cols[:i]]
        clauses.append("(" + " AND ".join([*eqs, f"{col} {direction[col]} ?"]) + ")")
        params.extend([*key[:i], key[i]])
    return "WHERE " + " OR ".join(clauses), params


def _translate(exc: sqlite3.OperationalError, timeout: float = 0.0) -> Exception:
    """A query the engine cannot run is the user's problem; anything else is an outage."""
    msg = str(exc)
    if "interrupted" in msg:
        return QueryError(
            f"the query is too broad: it took longer than {timeout:g} s "
            "(NEWSWATCH_SEARCH_TIMEOUT); narrow it with more words, a field or a date range"
        )
    if re.search(r"fts5|syntax error|too large|too many|no such column", msg):
        return QueryError(f"the query cannot be run: {msg}")
    return BackendUnavailable(f"search database error: {msg}")
