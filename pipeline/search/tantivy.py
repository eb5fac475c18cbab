"""The embedded search backend: a Tantivy index in the data dir, in-process, no server.

Tantivy is a Lucene-class engine written in Rust (block-max WAND top-k,
columnar fast fields for facets and sorting); the ``tantivy`` package binds
it. Queries are compiled from the same tree as the other backends
(:mod:`pipeline.search.ast`); the text fields hold the token streams of the
one shared tokenizer (:func:`docs.token_fields`), split again on whitespace
only, so no Tantivy analyzer decides what matches.

Layout under ``<data dir>/search-index``:

- ``CURRENT``: the name of the live generation directory (``v1``, ``v2`` ...),
  replaced atomically (``os.replace``) when :meth:`TantivyBackend.rebuild`
  has filled and committed a new generation, so searches never see an empty
  or half-built index; older and abandoned generations are removed;
- ``writer.lock``: one writer at a time across processes (``flock``). A
  second writer waits, saying so on stderr, up to ``lock_timeout`` seconds,
  then gives up with a clear error (the articles stay pending).

Readers reload when ``meta.json`` of the live generation changes (a commit by
any process) and reopen when ``CURRENT`` changes, before each search.

Crash safety: ``upsert`` reports ids only after ``commit`` returns; a kill
before that loses nothing (the articles stay pending and the next run
re-indexes them; replacing by id means nothing doubles).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import tantivy

from pipeline.errors import BackendUnavailable, QueryError
from pipeline.search import ast
from pipeline.search.base import IndexReport, SearchDoc, SearchHit, SearchRequest, SearchResult
from pipeline.search.docs import KEYWORD_INDEX_FIELDS, from_us, to_us, token_fields
from pipeline.search.query import Resolver, filters_node, keyword_value, parse_query, positive_nodes
from pipeline.search.snippets import snippet_for

TITLE_BOOST = 5.0
FACET_SIZE = 20
FACET_FETCH = 1000  # terms fetched per facet before the exact top-20 cut
MAX_EXPANSIONS = 5000  # words a trailing wildcard may stand for
MAX_BUCKETS = 60_000  # below Tantivy's 65,000 aggregation bucket limit
NULL_DATE_KEY = -(2**62)  # sorts after every real date in descending order
WRITER_HEAP = 64_000_000
REBUILD_HEAP = 200_000_000

TEXT_INDEX_FIELDS = ("title_tok", "text_tok", "title_stem", "text_stem")
DATE_INDEX_FIELDS = {"published": "published_us", "ingested": "ingested_us"}
FACET_FIELDS = {
    "source": "source",
    "lang": "lang",
    "event": "events",
    "place": "places",
    "entity": "entities",
    "day": "day",
}

# Searches run here so a deadline can be kept; wide enough that concurrent API requests
# rarely queue (queueing would count against the time budget).
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="tantivy-search")


# --------------------------------------------------------------------------- pure helpers


def story_num(story_key: str) -> int:
    """A stable non-negative 63-bit number for a story (fast-field grouping for collapse)."""
    return int.from_bytes(hashlib.blake2b(story_key.encode(), digest_size=8).digest()) >> 1


ID_NUM_MAX = 2**63 - 1


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, fast=True, tokenizer_name="raw")
    # stored, not indexed: what a hit shows (JSON) and the text snippets are cut from
    sb.add_bytes_field("hit", stored=True, indexed=False)
    sb.add_bytes_field("body", stored=True, indexed=False)
    for name in TEXT_INDEX_FIELDS:
        sb.add_text_field(name, tokenizer_name="nw_ws", index_option="position")
    for name in (*KEYWORD_INDEX_FIELDS.values(), "source", "day"):
        sb.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    for name in ("published_us", "ingested_us", "pkey", "story_num", "id_num"):
        sb.add_integer_field(name, indexed=True, fast=True)
    return sb.build()


def _keys(field: str, values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(keyword_value(field, v) for v in values if v))


def to_document(doc: SearchDoc) -> tantivy.Document:
    """SearchDoc -> one Tantivy document (stored: id, the hit record, the text)."""
    story = doc.story_id or doc.id
    published = to_us(doc.published)
    d = tantivy.Document()
    d.add_text("id", doc.id)
    hit = {
        "title": doc.title,
        "url": doc.url,
        "source": doc.source,
        "lang": doc.lang,
        "published": published,
        "story_id": story,
        "events": list(doc.events),
        "entities": list(doc.entity_records),
    }
    d.add_bytes("hit", json.dumps(hit, ensure_ascii=False, separators=(",", ":")).encode())
    d.add_bytes("body", doc.text.encode())
    for name, value in token_fields(doc).items():
        d.add_text(name, value)
    if doc.source:
        d.add_text("source", doc.source)
        d.add_text("source_key", keyword_value("source", doc.source))
    if doc.lang:
        d.add_text("lang", keyword_value("lang", doc.lang))
    d.add_text("story_key", keyword_value("story", story))
    for fld, values in (
        ("event", doc.events),
        ("entity", doc.entities),
        ("person", doc.persons),
        ("org", doc.orgs),
        ("actor", doc.actors),
        ("place", doc.places),
    ):
        for v in _keys(fld, values):
            d.add_text(KEYWORD_INDEX_FIELDS[fld], v)
    if published is not None:
        d.add_integer("published_us", published)
        d.add_text("day", from_us(published).strftime("%Y-%m-%d"))  # type: ignore[union-attr]
    d.add_integer("ingested_us", to_us(doc.ingested_at) or 0)
    d.add_integer("pkey", published if published is not None else NULL_DATE_KEY)
    d.add_integer("story_num", story_num(keyword_value("story", story)))
    d.add_integer("id_num", story_num(doc.id))  # slices iter_ids into bounded aggregations
    return d


def encode_cursor(sort: str, collapse: bool, offset: int) -> str:
    raw = json.dumps({"s": sort, "c": collapse, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, collapse: bool) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["o"]
        ok = data["s"] == sort and bool(data.get("c")) == collapse
        ok = ok and isinstance(offset, int) and offset >= 0
    except (ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        raise QueryError("the paging cursor is not valid for this search; start again")
    return offset


def near_orders(words: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every distinct order of the words: Tantivy's sloppy phrase is ordered, NEAR is not."""
    return sorted(set(itertools.permutations(words)))


# --------------------------------------------------------------------------- compiling


class _Compiler:
    """AST -> Tantivy query, against one searcher (wildcards expand on its vocabulary)."""

    def __init__(self, schema: tantivy.Schema, searcher: tantivy.Searcher) -> None:
        self.schema = schema
        self.searcher = searcher

    def expand(self, field: str, prefix: str, what: str) -> list[str]:
        found = self.searcher.terms_with_prefix(field, prefix, limit=MAX_EXPANSIONS + 1)
        words = [w for w, _ in found]
        if len(words) > MAX_EXPANSIONS:
            raise QueryError(
                f"the query is too broad: {what} stands for more than {MAX_EXPANSIONS} "
                "different words; add letters before the *"
            )
        return words

    def text(self, node: ast.Term | ast.Phrase, f: str) -> tantivy.Query:
        Q = tantivy.Query
        field = f"{f}_{'tok' if node.exact else 'stem'}"
        if isinstance(node, ast.Term):
            if node.prefix:
                words = self.expand(field, node.value, f"'{node.value}*'")
                if not words:
                    return Q.empty_query()
                return Q.term_set_query(self.schema, field, words)
            return Q.term_query(self.schema, field, node.value)
        if node.slop:
            slop = node.slop + 2 - len(node.words)
            orders = [
                Q.phrase_query(self.schema, field, list(o), slop) for o in near_orders(node.words)
            ]
            return (
                orders[0]
                if len(orders) == 1
                else Q.boolean_query([(tantivy.Occur.Should, q) for q in orders])
            )
        return Q.phrase_query(self.schema, field, list(node.words))

    def compile(self, node: ast.Node) -> tantivy.Query:
        Q = tantivy.Query
        if isinstance(node, ast.MatchAll):
            return Q.all_query()
        if isinstance(node, ast.Term | ast.Phrase):
            parts = []
            for f in node.fields:
                q = self.text(node, f)
                parts.append(Q.boost_query(q, TITLE_BOOST) if f == "title" else q)
            if len(parts) == 1:
                return parts[0]
            return Q.boolean_query([(tantivy.Occur.Should, q) for q in parts])
        if isinstance(node, ast.Keyword):
            field = KEYWORD_INDEX_FIELDS[node.field]
            if node.prefix and not node.value:
                q = Q.exists_query(field)
            elif node.prefix:
                words = self.expand(field, node.value, f"'{node.field}:{node.value}*'")
                q = Q.term_set_query(self.schema, field, words) if words else Q.empty_query()
            else:
                q = Q.term_query(self.schema, field, node.value)
            return Q.const_score_query(q, 0.0)
        if isinstance(node, ast.DateRange):
            field = DATE_INDEX_FIELDS[node.field]
            if node.start is None and node.end is None:
                q = Q.exists_query(field)
            else:
                q = Q.range_query(
                    self.schema,
                    field,
                    tantivy.FieldType.Integer,
                    to_us(node.start) if node.start is not None else -(2**63),
                    to_us(node.end) if node.end is not None else 2**63 - 1,
                    include_lower=node.include_start if node.start is not None else True,
                    include_upper=node.include_end if node.end is not None else True,
                )
            return Q.const_score_query(q, 0.0)
        if isinstance(node, ast.Not):
            return Q.boolean_query(
                [
                    (tantivy.Occur.Must, Q.all_query()),
                    (tantivy.Occur.MustNot, self.compile(node.item)),
                ]
            )
        if isinstance(node, ast.And):
            clauses = []
            for item in node.items:
                if isinstance(item, ast.Not):
                    clauses.append((tantivy.Occur.MustNot, self.compile(item.item)))
                else:
                    clauses.append((tantivy.Occur.Must, self.compile(item)))
            if all(occ == tantivy.Occur.MustNot for occ, _ in clauses):
                clauses.append((tantivy.Occur.Must, Q.all_query()))
            return Q.boolean_query(clauses)
        if isinstance(node, ast.Or):
            return Q.boolean_query([(tantivy.Occur.Should, self.compile(i)) for i in node.items])
        raise QueryError(f"unsupported query node {type(node).__name__}")


# --------------------------------------------------------------------------- the writer lock


@contextlib.contextmanager
def writer_lock(path: Path, timeout: float, what: str = "write to") -> Iterator[None]:
    """One writer across processes; wait with a message, then a clear error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BackendUnavailable(
                        f"the search index in {path.parent} is busy: another newswatch process "
                        f"has been writing to it for more than {timeout:g} s "
                        "(NEWSWATCH_INDEX_LOCK_TIMEOUT); articles stay pending and are "
                        "indexed on the next run"
                    ) from None
                if not told:
                    print(
                        f"newswatch: waiting for another newswatch process to finish writing "
                        f"the search index ({path.parent}) ...",
                        file=sys.stderr,
                        flush=True,
                    )
                    told = True
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {what}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --------------------------------------------------------------------------- backend


class TantivyBackend:
    """SearchBackend on an embedded Tantivy index (see the module docstring)."""

    name = "tantivy"

    def __init__(
        self,
        path: str | Path,
        resolve: Resolver | None = None,
        *,
        timeout: float = 10.0,
        lock_timeout: float = 120.0,
    ) -> None:
        self.root = Path(path)
        self.resolve = resolve
        self.timeout = timeout
        self.lock_timeout = lock_timeout
        self.schema = build_schema()
        self._lock = threading.RLock()
        self._index: tantivy.Index | None = None
        self._generation: str | None = None
        self._meta_stamp: tuple[float, int] | None = None
        self.created = False  # True when this process created an empty index
        self.ensure_ready()

    # files ----------------------------------------------------------------

    @property
    def current_file(self) -> Path:
        return self.root / "CURRENT"

    @property
    def lock_file(self) -> Path:
        return self.root / "writer.lock"

    def _read_current(self) -> str | None:
        try:
            name = self.current_file.read_text().strip()
        except FileNotFoundError:
            return None
        return name if name and (self.root / name / "meta.json").exists() else None

    def _write_current(self, name: str) -> None:
        tmp = self.root / "CURRENT.tmp"
        with open(tmp, "w") as fh:
            fh.write(name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.current_file)
        dfd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _open(self, name: str) -> tantivy.Index:
        path = self.root / name
        try:
            path.mkdir(parents=True, exist_ok=True)
            index = tantivy.Index(self.schema, path=str(path), reuse=True)
        except (ValueError, OSError) as exc:
            raise BackendUnavailable(f"cannot open the search index {path}: {exc}") from None
        analyzer = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
        index.register_tokenizer("nw_ws", analyzer)
        return index

    def _meta(self) -> tuple[float, int] | None:
        try:
            st = (self.root / str(self._generation) / "meta.json").stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime, st.st_size)

    def ensure_ready(self) -> None:
        """Open the live generation, creating the first one if there is none."""
        with self._lock:
            if self._index is not None:
                return
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BackendUnavailable(f"cannot create {self.root}: {exc}") from None
            name = self._read_current()
            if name is not None and not self._schema_matches(name):
                name = None  # an index of an older layout: start a new generation
            if name is None:
                with writer_lock(self.lock_file, self.lock_timeout, "create"):
                    name = self._read_current()
                    if name is not None and not self._schema_matches(name):
                        name = None
                    if name is None:
                        name = self._next_generation()
                        index = self._open(name)
                        w = index.writer(WRITER_HEAP, 1)
                        w.commit()
                        w.wait_merging_threads()
                        self._write_current(name)
                        self.created = True
            self._switch(name)

    def _schema_matches(self, name: str) -> bool:
        try:
            tantivy.Index(self.schema, path=str(self.root / name), reuse=True)
        except ValueError as exc:
            if "schema does not match" in str(exc):
                return False
            raise BackendUnavailable(f"cannot open the search index: {exc}") from None
        return True

    def _next_generation(self) -> str:
        nums = [int(p.name[1:]) for p in self.root.glob("v*") if p.name[1:].isdigit()]
        return f"v{max(nums, default=0) + 1}"

    def _switch(self, name: str) -> None:
        self._index = self._open(name)
        self._generation = name
        self._meta_stamp = self._meta()
        self._index.reload()

    def _fresh(self) -> tantivy.Index:
        """The index, reopened or reloaded if another process committed or rebuilt."""
        with self._lock:
            if self._index is None:
                self.ensure_ready()
            name = self._read_current()
            if name is not None and name != self._generation:
                self._switch(name)
            else:
                stamp = self._meta()
                if stamp != self._meta_stamp:
                    self._meta_stamp = stamp
                    self._index.reload()  # type: ignore[union-attr]
            return self._index  # type: ignore[return-value]

    def close(self) -> None:
        with self._lock:
            self._index = None

    # writes ---------------------------------------------------------------

    def _add(
        self,
        writer: tantivy.IndexWriter,
        docs: Iterable[SearchDoc],
        report: IndexReport,
        replace: bool,
    ) -> list[str]:
        done: list[str] = []
        for doc in docs:
            try:
                tdoc = to_document(doc)
            except (TypeError, ValueError, AttributeError, OverflowError) as exc:
                report.errors[str(getattr(doc, "id", "?"))] = f"{type(exc).__name__}: {exc}"
                continue
            if replace:
                writer.delete_documents_by_term("id", doc.id)
            writer.add_document(tdoc)
            done.append(doc.id)
        return done

    def upsert(self, docs: Iterable[SearchDoc]) -> IndexReport:
        """Replace by id; ids are reported only after the commit that holds them returns."""
        report = IndexReport()
        batch = list(docs)
        if not batch:
            return report
        with self._lock, writer_lock(self.lock_file, self.lock_timeout, "index"):
            index = self._fresh()
            big = len(batch) >= 1000  # a bulk load uses both indexing threads
            try:
                writer = index.writer(REBUILD_HEAP if big else WRITER_HEAP, 2 if big else 1)
            except ValueError as exc:
                raise BackendUnavailable(f"cannot write the search index: {exc}") from None
            try:
                # the last version of an id in one batch wins, as with one upsert each
                latest = {d.id: d for d in batch if isinstance(getattr(d, "id", None), str)}
                bad = [d for d in batch if not isinstance(getattr(d, "id", None), str)]
                for d in bad:
                    report.errors[str(getattr(d, "id", "?"))] = "document without an id"
                done = self._add(writer, latest.values(), report, replace=True)
                writer.commit()
            except BaseException:
                with contextlib.suppress(ValueError):
                    writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()
            index.reload()
            self._meta_stamp = self._meta()
        report.indexed.extend(done)
        return report

    def delete(self, ids: Iterable[str]) -> None:
        with self._lock, writer_lock(self.lock_file, self.lock_timeout, "delete from"):
            index = self._fresh()
            writer = index.writer(WRITER_HEAP, 1)
            try:
                for doc_id in ids:
                    writer.delete_documents_by_term("id", doc_id)
                writer.commit()
            finally:
                writer.wait_merging_threads()
            index.reload()
            self._meta_stamp = self._meta()

    def rebuild(self, docs: Iterable[SearchDoc]) -> int:
        """Fill a new generation, commit, switch ``CURRENT`` atomically, drop the old ones.

        A kill during the build leaves ``CURRENT`` on the old, complete
        generation; the abandoned directory is removed by the next rebuild.
        """
        with writer_lock(self.lock_file, self.lock_timeout, "rebuild"):
            name = self._next_generation()
            index = self._open(name)
            writer = index.writer(REBUILD_HEAP, 2)
            report = IndexReport()
            try:
                seen: set[str] = set()
                n = 0
                for doc in docs:
                    replace = doc.id in seen
                    seen.add(doc.id)
                    n += len(self._add(writer, [doc], report, replace=replace))
                writer.commit()
            except BaseException:
                with contextlib.suppress(ValueError):
                    writer.rollback()
                writer.wait_merging_threads()
                shutil.rmtree(self.root / name, ignore_errors=True)
                raise
            writer.wait_merging_threads()
            self._write_current(name)
            for old in self.root.glob("v*"):
                if old.name != name and old.is_dir():  # the previous and abandoned builds
                    shutil.rmtree(old, ignore_errors=True)
        with self._lock:
            self._switch(name)
        return len(seen - set(report.errors)) if n else 0

    # reads ----------------------------------------------------------------

    def count(self) -> int:
        return int(self._fresh().searcher().num_docs)

    def _tree(self, request: SearchRequest) -> ast.Node:
        query = parse_query(request.query, self.resolve)
        filters = filters_node(request)
        if isinstance(filters, ast.MatchAll):
            return query
        return ast.And((query, filters))

    def _budget(self, fn: Any, *args: Any) -> Any:
        """Run one engine call within the search time budget."""
        future = _POOL.submit(fn, *args)
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            raise QueryError(
                f"the query is too broad: it took longer than {self.timeout:g} s "
                "(NEWSWATCH_SEARCH_TIMEOUT); narrow it with more words, a field or a date range"
            ) from None
        except ValueError as exc:
            raise QueryError(f"the query cannot be run: {exc}") from None

    def _compile(self, searcher: tantivy.Searcher, node: ast.Node) -> tantivy.Query:
        return _Compiler(self.schema, searcher).compile(node)

    def iter_ids(self, request: SearchRequest) -> Iterator[str]:
        """Every matching id, from one searcher (a consistent snapshot), in id-hash slices."""
        searcher = self._fresh().searcher()
        query = self._compile(searcher, self._tree(request))
        total = self._budget(lambda: searcher.search(query, 1, count=True).count)
        if not total:
            return
        slices = max(1, -(-total // (MAX_BUCKETS // 2)))
        yield from self._ids_in(searcher, query, 0, ID_NUM_MAX, slices)

    def _ids_in(
        self, searcher: tantivy.Searcher, query: tantivy.Query, lo: int, hi: int, slices: int
    ) -> Iterator[str]:
        """Ids of matches whose id hash (``id_num``) falls in [lo, hi], slice by slice."""
        step = (hi - lo) // slices + 1
        for i in range(slices):
            a = lo + i * step
            b = min(a + step - 1, hi)
            if slices == 1:
                part = query
            else:
                rng = tantivy.Query.range_query(
                    self.schema, "id_num", tantivy.FieldType.Integer, a, b
                )
                part = tantivy.Query.boolean_query(
                    [(tantivy.Occur.Must, query), (tantivy.Occur.Must, rng)]
                )
            agg = searcher.aggregate(part, {"ids": {"terms": {"field": "id", "size": MAX_BUCKETS}}})
            buckets = agg["ids"]["buckets"]
            if len(buckets) >= MAX_BUCKETS and b > a:
                yield from self._ids_in(searcher, query, a, b, 4)
                continue
            for bucket in buckets:
                yield str(bucket["key"])

    def search(self, request: SearchRequest) -> SearchResult:
        index = self._fresh()
        searcher = index.searcher()
        node = self._tree(request)
        query = self._compile(searcher, node)
        limit = max(request.limit, 0)
        offset = max(request.offset, 0)
        if request.cursor:
            offset = decode_cursor(request.cursor, request.sort, request.collapse)
        result = self._budget(self._search, searcher, query, node, request, offset, limit)
        return result

    def _ranked(
        self, searcher: tantivy.Searcher, query: tantivy.Query, sort: str, k: int
    ) -> tuple[list[tuple[float, int, tantivy.DocAddress]], int]:
        """The top ``k`` as (score, pkey, address), in the shared order, and the total."""
        if sort == "date":
            res = searcher.search(query, k, count=True, order_by_field="pkey")
            addrs = [a for _, a in res.hits]
            scores = [0.0] * len(addrs)
        else:
            res = searcher.search(query, k, count=True)
            addrs = [a for _, a in res.hits]
            scores = [float(s) for s, _ in res.hits]
        pkeys = searcher.fast_field_values("pkey", addrs) if addrs else []
        rows = [
            (s, int(p if p is not None else NULL_DATE_KEY), a)
            for s, p, a in zip(scores, pkeys, addrs, strict=True)
        ]
        return rows, int(res.count or 0)

    def _ordered(
        self, searcher: tantivy.Searcher, rows: list[tuple[float, int, Any]], date: bool
    ) -> list[tuple[float, int, str, Any]]:
        """The fetched rows with their stored documents, in the backend's order.

        Relevance keeps Tantivy's order (score desc, then index order: one
        total order per snapshot, so offset pages never overlap); the date
        sort is newest first, then id, as on the other backends.
        """
        out = [(s, p, searcher.doc(a), a) for s, p, a in rows]
        ordered = [(s, p, d["id"][0], (a, d)) for s, p, d, a in out]
        if date:
            ordered.sort(key=lambda r: (-r[1], r[2]))
        return ordered

    def _date_ties(
        self, searcher: tantivy.Searcher, query: tantivy.Query, rows: list[tuple[float, int, Any]]
    ) -> list[tuple[float, int, Any]]:
        """With a date sort, bring in every match tied on the last date (ids break ties)."""
        last = rows[-1][1]
        same = tantivy.Query.range_query(self.schema, "pkey", tantivy.FieldType.Integer, last, last)
        q = tantivy.Query.boolean_query([(tantivy.Occur.Must, query), (tantivy.Occur.Must, same)])
        n = searcher.search(q, 1, count=True).count
        tied = searcher.search(q, max(int(n), 1), count=False).hits
        kept = [r for r in rows if r[1] != last]
        return kept + [(0.0, last, a) for _, a in tied]

    def _search(
        self,
        searcher: tantivy.Searcher,
        query: tantivy.Query,
        node: ast.Node,
        request: SearchRequest,
        offset: int,
        limit: int,
    ) -> SearchResult:
        want = offset + limit + 1
        if request.collapse:
            page, total, others = self._collapsed(searcher, query, request.sort, offset, limit)
            more = offset + limit < total
        else:
            rows, total = self._ranked(searcher, query, request.sort, want)
            if request.sort == "date" and len(rows) == want:
                rows = self._date_ties(searcher, query, rows)
            ordered = self._ordered(searcher, rows, request.sort == "date")
            page = ordered[offset : offset + limit]
            more = len(ordered) > offset + limit
            others: dict[str, int] = {}
        hits = self._hits(searcher, page, node, others)
        facets = self._facets(searcher, query) if request.facets else {}
        next_cursor = None
        if more and page:
            next_cursor = encode_cursor(request.sort, request.collapse, offset + limit)
        return SearchResult(total=total, hits=hits, facets=facets, next_cursor=next_cursor)

    def _collapsed(
        self, searcher: tantivy.Searcher, query: tantivy.Query, sort: str, offset: int, limit: int
    ) -> tuple[list[tuple[float, int, str, Any]], int, dict[str, int]]:
        """Best report per story for the page, the number of stories, others per story."""
        matches = int(searcher.search(query, 1, count=True).count or 0)
        k = min(max((offset + limit + 1) * 4, 64), max(matches, 1))
        while True:
            rows, _ = self._ranked(searcher, query, sort, k)
            if sort == "date" and len(rows) == k and k < matches:
                rows = self._date_ties(searcher, query, rows)
            nums = searcher.fast_field_values("story_num", [a for _, _, a in rows]) if rows else []
            ordered = self._ordered(searcher, rows, sort == "date")
            num_of = {id(a): n for (_, _, a), n in zip(rows, nums, strict=True)}
            best: dict[int, tuple[float, int, str, Any]] = {}
            for r in ordered:
                best.setdefault(int(num_of[id(r[3][0])]), r)
            if len(best) > offset + limit or k >= matches:
                break
            k = min(k * 4, matches)
        firsts = list(best.items())  # insertion order is the ranking order
        page_items = firsts[offset : offset + limit]
        total = self._story_count(searcher, query, matches)
        others: dict[str, int] = {}
        if page_items:
            nums_on_page = [n for n, _ in page_items]
            q = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, query),
                    (
                        tantivy.Occur.Must,
                        tantivy.Query.term_set_query(self.schema, "story_num", nums_on_page),
                    ),
                ]
            )
            agg = searcher.aggregate(
                q, {"s": {"terms": {"field": "story_num", "size": len(nums_on_page) + 1}}}
            )
            counts = {int(b["key"]): int(b["doc_count"]) for b in agg["s"]["buckets"]}
            others = {r[2]: counts.get(n, 1) - 1 for n, r in page_items}
        return [r for _, r in page_items], total, others

    def _story_count(self, searcher: tantivy.Searcher, query: tantivy.Query, matches: int) -> int:
        """Distinct stories among the matches: exact up to 60,000, an estimate above."""
        if matches == 0:
            return 0
        if matches <= MAX_BUCKETS:
            agg = searcher.aggregate(
                query, {"s": {"terms": {"field": "story_num", "size": MAX_BUCKETS}}}
            )
            return len(agg["s"]["buckets"])
        return round(searcher.cardinality(query, "story_num"))

    def _hits(
        self,
        searcher: tantivy.Searcher,
        page: list[tuple[float, int, str, Any]],
        node: ast.Node,
        others: dict[str, int],
    ) -> list[SearchHit]:
        nodes = positive_nodes(node)
        hits = []
        for score, _pkey, doc_id, (_addr, stored) in page:
            rec = json.loads(bytes(stored["hit"][0]))
            text = bytes(stored["body"][0]).decode() if stored["body"] else ""
            hits.append(
                SearchHit(
                    id=doc_id,
                    title=rec["title"],
                    url=rec["url"],
                    source=rec["source"],
                    lang=rec["lang"],
                    published=from_us(rec["published"]),
                    score=score,
                    snippet=snippet_for(text, nodes),
                    story_id=rec["story_id"],
                    events=list(rec["events"]),
                    entities=list(rec["entities"]),
                    collapsed=others.get(doc_id, 0),
                )
            )
        return hits

    def _facets(
        self, searcher: tantivy.Searcher, query: tantivy.Query
    ) -> dict[str, list[tuple[str, int]]]:
        """Counts over every match: top 20 per facet, and every day for the histogram."""
        aggs = {
            name: {
                "terms": {
                    "field": field,
                    "size": MAX_BUCKETS // 2 if name == "day" else FACET_FETCH,
                }
            }
            for name, field in FACET_FIELDS.items()
        }
        raw = searcher.aggregate(query, aggs)
        out: dict[str, list[tuple[str, int]]] = {}
        for name in ("source", "lang", "day", "event", "place", "entity"):
            pairs = [
                (str(b["key"]), int(b["doc_count"]))
                for b in raw.get(name, {}).get("buckets", [])
                if b["doc_count"]
            ]
            if name == "day":
                out[name] = sorted(pairs)
            else:
                pairs.sort(key=lambda p: (-p[1], p[0]))
                out[name] = pairs[:FACET_SIZE]
        return out
