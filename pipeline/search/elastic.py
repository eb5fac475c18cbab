"""The Elasticsearch search backend: same protocol, same query tree, same answers.

Layout on the server, for an index setting ``newswatch``:

- an index template ``newswatch-template`` for ``newswatch-v*`` with explicit
  mappings (``dynamic: strict``, so a document that does not fit is refused
  and reported instead of silently growing the mapping);
- versioned indices ``newswatch-v1``, ``newswatch-v2`` ... behind the alias
  ``newswatch``; readers and writers only ever name the alias, and
  :meth:`ElasticsearchBackend.rebuild` fills a new version and swaps the alias
  in one atomic ``update_aliases`` call, so searches never see an empty index.

Parity with the other backends is by construction, not by analyzer tuning:
``title_tok`` / ``text_tok`` (exact forms) and ``title_stem`` / ``text_stem``
(light stems) hold the token streams of the one shared tokenizer
(:func:`docs.token_fields`) joined by spaces, and are indexed with the
built-in ``whitespace`` analyzer, which every server has (the test server has
no ``english``/``arabic``/``asciifolding``). Queries match only those
fields. Snippets are cut from the original ``text`` by the shared
:mod:`snippets` module, as on every backend. ``title_norm`` / ``text_norm``
(the pipeline's Arabic-folded text, standard analyzer) get ``.en`` / ``.ar``
sub-fields on a server that offers the language analyzers, for users of the
query DSL directly; they never decide membership of a result set.

Every search carries the search time budget (``timeout``); a search that
runs out of it is refused as too broad rather than answered in part.

Keyword fields hold :func:`query.keyword_value` forms, the ones queries are
resolved to. ``total`` with ``collapse`` counts distinct stories (as SQLite
does) with a ``cardinality`` aggregation: exact up to 40,000 stories per query
on this aggregation's precision threshold, a close estimate above.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError, helpers

from pipeline.errors import BackendUnavailable, ConfigError, QueryError
from pipeline.search import ast
from pipeline.search.base import IndexReport, SearchDoc, SearchHit, SearchRequest, SearchResult
from pipeline.search.docs import KEYWORD_INDEX_FIELDS, token_fields
from pipeline.search.query import (
    Resolver,
    filters_node,
    keyword_value,
    parse_query,
    positive_nodes,
)
from pipeline.search.snippets import snippet_for

if TYPE_CHECKING:
    from pipeline.config import Settings

TITLE_BOOST = 5.0  # as the SQLite backend's bm25 column weight
FACET_SIZE = 20
SNIPPET_CHARS = 200
CHUNK = 500
PAGE = 1000  # iter_ids page size
MAX_WINDOW = 10_000  # from + size limit of a default index
CARDINALITY_PRECISION = 40_000

DATE_INDEX_FIELDS = {"published": "published", "ingested": "ingested_at"}
HIT_SOURCE = ["id", "title", "url", "source", "lang", "published", "story_id", "events", "text"]
HIT_SOURCE_EXTRA = ["entity_records"]

_UNAVAILABLE = (TransportConnectionError, ConnectionTimeout)


# --------------------------------------------------------------------------- mappings


def index_mappings() -> dict[str, Any]:
    """Explicit mappings; ``lang_fields`` adds analyzer sub-fields the server offers."""
    kw = {"type": "keyword"}
    return {
        "dynamic": "strict",
        "_source": {"excludes": ["title_tok", "text_tok", "title_stem", "text_stem"]},
        "properties": {
            "id": kw,
            "title": {
                "type": "text",
                "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}},
            },
            "text": {"type": "text", "index": False},
            "title_norm": {"type": "text"},
            "text_norm": {"type": "text"},
            "title_tok": {"type": "text", "analyzer": "whitespace"},
            "text_tok": {"type": "text", "analyzer": "whitespace"},
            "title_stem": {"type": "text", "analyzer": "whitespace"},
            "text_stem": {"type": "text", "analyzer": "whitespace"},
            "summary": {"type": "text"},
            "url": kw,
            "source": kw,
            "source_key": kw,
            "lang": kw,
            "story_id": kw,
            "story_key": kw,
            "events": kw,
            "entities": kw,
            "persons": kw,
            "orgs": kw,
            "actors": kw,
            "places": kw,
            "published": {"type": "date"},
            "ingested_at": {"type": "date"},
            "geo": {"type": "geo_point"},
            "entity_records": {"type": "object", "enabled": False},
        },
    }


def index_settings(shards: int = 1, replicas: int | None = None) -> dict[str, Any]:
    """Shards and replicas of new indices; no replica count means 0-1, as the nodes allow."""
    if replicas is None:
        return {"number_of_shards": shards, "auto_expand_replicas": "0-1"}
    return {"number_of_shards": shards, "number_of_replicas": replicas}


def add_language_fields(mappings: dict[str, Any], analyzers: Iterable[str]) -> dict[str, Any]:
    """Sub-fields ``.en`` / ``.ar`` on the norm fields for the analyzers present."""
    subs = {
        short: {"type": "text", "analyzer": name}
        for short, name in (("en", "english"), ("ar", "arabic"))
        if name in analyzers
    }
    if subs:
        for name in ("title_norm", "text_norm"):
            mappings["properties"][name]["fields"] = dict(subs)
    return mappings


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _parse_dt(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _keys(field: str, values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(keyword_value(field, v) for v in values if v))


def doc_body(doc: SearchDoc) -> dict[str, Any]:
    """SearchDoc -> the JSON source of one Elasticsearch document."""
    return {
        "id": doc.id,
        "title": doc.title,
        "text": doc.text,
        "title_norm": doc.title_norm,
        "text_norm": doc.text_norm,
        **token_fields(doc),
        "summary": doc.summary,
        "url": doc.url,
        "source": doc.source,
        "source_key": keyword_value("source", doc.source) if doc.source else None,
        "lang": keyword_value("lang", doc.lang) if doc.lang else None,
        "story_id": doc.story_id or doc.id,
        "story_key": keyword_value("story", doc.story_id or doc.id),
        "events": _keys("event", doc.events),
        "entities": _keys("entity", doc.entities),
        "persons": _keys("person", doc.persons),
        "orgs": _keys("org", doc.orgs),
        "actors": _keys("actor", doc.actors),
        "places": _keys("place", doc.places),
        "published": _iso(doc.published),
        "ingested_at": _iso(doc.ingested_at),
        "geo": [{"lat": lat, "lon": lon} for lat, lon in doc.geo],
        "entity_records": list(doc.entity_records),
    }


# --------------------------------------------------------------------------- query compile


def _filter(clause: dict[str, Any]) -> dict[str, Any]:
    """Non-scoring wrapper: keyword and date clauses must not move the ranking."""
    return {"bool": {"filter": [clause]}}


def _text_clause(node: ast.Term | ast.Phrase) -> dict[str, Any]:
    """One word/prefix/phrase on the token fields of its text fields, title boosted.

    Proximity is an unordered ``span_near``: its slop counts the gaps between
    the words, FTS5 ``NEAR`` the tokens between the first and the last, hence
    ``slop + 2 - len(words)``.
    """
    clauses = []
    for f in node.fields:
        field = f"{f}_{'tok' if node.exact else 'stem'}"
        boost = TITLE_BOOST if f == "title" else 1.0
        if isinstance(node, ast.Phrase) and node.slop:
            clauses.append(
                {
                    "span_near": {
                        "clauses": [{"span_term": {field: w}} for w in node.words],
                        "slop": node.slop + 2 - len(node.words),
                        "in_order": False,
                        "boost": boost,
                    }
                }
            )
        elif isinstance(node, ast.Phrase):
            clauses.append(
                {"match_phrase": {field: {"query": " ".join(node.words), "boost": boost}}}
            )
        elif node.prefix:
            clauses.append({"prefix": {field: {"value": node.value, "boost": boost}}})
        else:
            clauses.append({"term": {field: {"value": node.value, "boost": boost}}})
    if len(clauses) == 1:
        return clauses[0]
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def compile_node(node: ast.Node) -> dict[str, Any]:
    """The backend-neutral tree -> Elasticsearch query DSL (same sets as SQLite's SQL)."""
    if isinstance(node, ast.MatchAll):
        return {"match_all": {}}
    if isinstance(node, ast.Term | ast.Phrase):
        return _text_clause(node)
    if isinstance(node, ast.Keyword):
        field = KEYWORD_INDEX_FIELDS[node.field]
        if node.prefix and not node.value:
            return _filter({"exists": {"field": field}})
        if node.prefix:
            return _filter({"prefix": {field: node.value}})
        return _filter({"term": {field: node.value}})
    if isinstance(node, ast.DateRange):
        field = DATE_INDEX_FIELDS[node.field]
        if node.start is None and node.end is None:
            return _filter({"exists": {"field": field}})
        bounds: dict[str, Any] = {}
        if node.start is not None:
            bounds["gte" if node.include_start else "gt"] = _iso(node.start)
        if node.end is not None:
            bounds["lte" if node.include_end else "lt"] = _iso(node.end)
        return _filter({"range": {field: bounds}})
    if isinstance(node, ast.Not):
        return {"bool": {"must": [{"match_all": {}}], "must_not": [compile_node(node.item)]}}
    if isinstance(node, ast.And):
        must = [compile_node(i) for i in node.items if not isinstance(i, ast.Not)]
        must_not = [compile_node(i.item) for i in node.items if isinstance(i, ast.Not)]
        body: dict[str, Any] = {"must": must or [{"match_all": {}}]}
        if must_not:
            body["must_not"] = must_not
        return {"bool": body}
    if isinstance(node, ast.Or):
        return {
            "bool": {"should": [compile_node(i) for i in node.items], "minimum_should_match": 1}
        }
    raise QueryError(f"unsupported query node {type(node).__name__}")


def sort_spec(sort: str) -> list[Any]:
    """Relevance: score, newest, id; date: newest, id. Undated documents sort last."""
    date = {"published": {"order": "desc", "missing": "_last"}}
    tie = {"id": {"order": "asc"}}
    if sort == "date":
        return [date, tie]
    return [{"_score": {"order": "desc"}}, date, tie]


def encode_cursor(sort: str, collapse: bool, key: list[Any]) -> str:
    """Opaque cursor: the last hit's sort values, or (collapsed) the next offset."""
    raw = json.dumps({"s": sort, "c": collapse, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, collapse: bool) -> list[Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = data["k"]
        ok = data["s"] == sort and bool(data.get("c")) == collapse and isinstance(key, list)
        want = 1 if collapse else len(sort_spec(sort))
        ok = ok and len(key) == want
        if ok and collapse:
            ok = isinstance(key[0], int) and key[0] >= 0
    except (ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        raise QueryError("the paging cursor is not valid for this search; start again")
    return key


# --------------------------------------------------------------------------- backend


class ElasticsearchBackend:
    """SearchBackend on Elasticsearch (see the module docstring for the layout)."""

    name = "elasticsearch"

    def __init__(
        self,
        settings: Settings,
        resolve: Resolver | None = None,
        client: Elasticsearch | None = None,
    ) -> None:
        self.urls = list(settings.elasticsearch_url)
        self.alias = settings.elasticsearch_index
        self.index_settings = index_settings(
            settings.elasticsearch_shards, settings.elasticsearch_replicas
        )
        self.resolve = resolve
        self.timeout = settings.search_timeout
        self.client = client or self._client(settings)
        self._ready = False

    @staticmethod
    def _client(settings: Settings) -> Elasticsearch:
        kwargs: dict[str, Any] = {
            "request_timeout": settings.elasticsearch_timeout,
            "max_retries": 2,
            "retry_on_timeout": True,
        }
        if settings.elasticsearch_api_key:
            kwargs["api_key"] = settings.elasticsearch_api_key
        elif settings.elasticsearch_username:
            kwargs["basic_auth"] = (
                settings.elasticsearch_username,
                settings.elasticsearch_password or "",
            )
        if settings.elasticsearch_ca_certs:
            kwargs["ca_certs"] = str(settings.elasticsearch_ca_certs)
        try:
            return Elasticsearch(list(settings.elasticsearch_url), **kwargs)
        except ValueError as exc:  # a URL without scheme, host or port
            raise ConfigError(f"bad setting: NEWSWATCH_ELASTICSEARCH_URL: {exc}") from None

    # errors ---------------------------------------------------------------

    def _unavailable(self, exc: Exception) -> BackendUnavailable:
        where = ", ".join(self.urls)
        return BackendUnavailable(
            f"Elasticsearch at {where} is not reachable ({type(exc).__name__}: {exc}); "
            "articles stay pending and are indexed on the next run"
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one client call; outages become BackendUnavailable, bad queries QueryError."""
        try:
            return fn(*args, **kwargs)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from None
        except BadRequestError as exc:
            raise QueryError(f"Elasticsearch refused the search: {_reason(exc)}") from None
        except ApiError as exc:
            if exc.meta.status in (429, 502, 503, 504):
                raise self._unavailable(exc) from None
            raise
        except TransportError as exc:
            raise self._unavailable(exc) from None

    # set-up ---------------------------------------------------------------

    @property
    def template_name(self) -> str:
        return f"{self.alias}-template"

    @property
    def pattern(self) -> str:
        return f"{self.alias}-v*"

    def available_analyzers(self) -> list[str]:
        """Which language analyzers this server has (the test build has none)."""
        found = []
        for name in ("english", "arabic"):
            try:
                self.client.indices.analyze(analyzer=name, text="x")
                found.append(name)
            except BadRequestError:
                continue
        return found

    def ensure_ready(self) -> None:
        """Health check, template, first versioned index and alias; idempotent."""
        if self._ready:
            return
        health = self._call(self.client.cluster.health, wait_for_status="yellow", timeout="30s")
        if health.get("status") not in ("green", "yellow"):
            raise BackendUnavailable(
                f"Elasticsearch at {', '.join(self.urls)} is {health.get('status')}"
            )
        mappings = add_language_fields(index_mappings(), self._call(self.available_analyzers))
        self._call(
            self.client.indices.put_index_template,
            name=self.template_name,
            index_patterns=[self.pattern],
            priority=100,
            template={
                "settings": dict(self.index_settings),
                "mappings": mappings,
            },
            meta={"managed_by": "newswatch"},
        )
        if not self._call(self.client.indices.exists_alias, name=self.alias):
            if self._call(self.client.indices.exists, index=self.alias):
                raise BackendUnavailable(
                    f"'{self.alias}' is a plain index, not an alias; run `newswatch reindex` "
                    "after deleting it, or choose another NEWSWATCH_ELASTICSEARCH_INDEX"
                )
            name = self._next_index_name()
            try:
                self.client.indices.create(index=name, aliases={self.alias: {}})
            except BadRequestError as exc:  # another process created it first
                if "resource_already_exists" not in str(exc):
                    raise QueryError(f"cannot create index {name}: {_reason(exc)}") from None
            except _UNAVAILABLE as exc:
                raise self._unavailable(exc) from None
            if not self._call(self.client.indices.exists_alias, name=self.alias):
                self._call(self.client.indices.put_alias, index=name, name=self.alias)
        self._add_new_fields()
        self._ready = True

    def _add_new_fields(self) -> None:
        """An index made before the stem fields existed gets them (``reindex`` fills them)."""
        found = self._call(self.client.indices.get_mapping, index=self.alias)
        for name, body in found.items():
            props = body.get("mappings", {}).get("properties", {})
            if "title_stem" not in props:
                whitespace = {"type": "text", "analyzer": "whitespace"}
                self._call(
                    self.client.indices.put_mapping,
                    index=name,
                    properties={"title_stem": whitespace, "text_stem": whitespace},
                )

    def _versions(self) -> list[str]:
        found = self._call(
            self.client.indices.get,
            index=self.pattern,
            allow_no_indices=True,
            ignore_unavailable=True,
            expand_wildcards="all",
        )
        return sorted(found.keys(), key=_version_of)

    def _next_index_name(self) -> str:
        versions = [_version_of(n) for n in self._versions()]
        return f"{self.alias}-v{max(versions, default=0) + 1}"

    def current_indices(self) -> list[str]:
        """The concrete indices the alias points at (one, except mid-swap by hand)."""
        try:
            found = self.client.indices.get_alias(name=self.alias)
        except NotFoundError:
            return []
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from None
        return sorted(found.keys())

    def close(self) -> None:
        self.client.close()

    # writes ---------------------------------------------------------------

    def _bulk(self, index: str, actions: Iterable[dict[str, Any]], report: IndexReport) -> None:
        """Stream actions; confirmed ids into report.indexed, refusals into report.errors."""
        try:
            for ok, item in helpers.streaming_bulk(
                self.client,
                actions,
                chunk_size=CHUNK,
                raise_on_error=False,
                raise_on_exception=True,
                max_retries=4,
                initial_backoff=1,
                max_backoff=30,
            ):
                op = next(iter(item.values()))
                doc_id = str(op.get("_id"))
                if ok:
                    report.indexed.append(doc_id)
                else:
                    report.errors[doc_id] = _item_reason(op)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from None
        except ApiError as exc:
            if exc.meta.status in (429, 502, 503, 504):
                raise self._unavailable(exc) from None
            raise

    def _index_actions(self, index: str, docs: Iterable[SearchDoc]) -> Iterator[dict[str, Any]]:
        for doc in docs:
            yield {"_op_type": "index", "_index": index, "_id": doc.id, "_source": doc_body(doc)}

    def upsert(self, docs: Iterable[SearchDoc]) -> IndexReport:
        """Index by id (replace), then refresh so the next search sees the documents."""
        self.ensure_ready()
        report = IndexReport()
        self._bulk(self.alias, self._index_actions(self.alias, docs), report)
        if report.indexed:
            self._call(self.client.indices.refresh, index=self.alias)
        return report

    def delete(self, ids: Iterable[str]) -> None:
        self.ensure_ready()
        actions = ({"_op_type": "delete", "_index": self.alias, "_id": i} for i in ids)
        report = IndexReport()
        self._bulk(self.alias, actions, report)
        self._call(self.client.indices.refresh, index=self.alias)

    def rebuild(self, docs: Iterable[SearchDoc]) -> int:
        """Fill a new versioned index, swap the alias atomically, drop the old version.

        Searches go to the old index until the single ``update_aliases`` call
        and to the complete new one right after. Returns the documents indexed.
        """
        self.ensure_ready()
        old = self.current_indices()
        new = self._next_index_name()
        self._call(
            self.client.indices.create,
            index=new,
            settings={"index": {"refresh_interval": "-1"}},
        )
        report = IndexReport()
        try:
            self._bulk(new, self._index_actions(new, docs), report)
            self._call(
                self.client.indices.put_settings,
                index=new,
                settings={"index": {"refresh_interval": None}},
            )
            self._call(self.client.indices.refresh, index=new)
        except BaseException:
            with contextlib.suppress(ApiError, TransportError):
                self.client.indices.delete(index=new, ignore_unavailable=True)
            raise
        actions: list[dict[str, Any]] = [
            {"remove": {"index": name, "alias": self.alias}} for name in old
        ]
        actions.append({"add": {"index": new, "alias": self.alias}})
        self._call(self.client.indices.update_aliases, actions=actions)
        for name in old:
            self._call(self.client.indices.delete, index=name, ignore_unavailable=True)
        return len(report.indexed)

    # reads ----------------------------------------------------------------

    def count(self) -> int:
        self.ensure_ready()
        return int(self._call(self.client.count, index=self.alias)["count"])

    def _tree(self, request: SearchRequest) -> ast.Node:
        query = parse_query(request.query, self.resolve)
        filters = filters_node(request)
        if isinstance(filters, ast.MatchAll):
            return query
        return ast.And((query, filters))

    def iter_ids(self, request: SearchRequest) -> Iterator[str]:
        """Every matching id, paged with search_after on the id (no 10,000 limit)."""
        self.ensure_ready()
        query = compile_node(self._tree(request))
        after: list[Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"search_after": after} if after else {}
            resp = self._call(
                self.client.search,
                index=self.alias,
                query={"constant_score": {"filter": query}},
                sort=[{"id": "asc"}],
                size=PAGE,
                source=False,
                track_total_hits=False,
                **kwargs,
            )
            hits = resp["hits"]["hits"]
            for h in hits:
                yield h["_id"]
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]

    def search(self, request: SearchRequest) -> SearchResult:
        self.ensure_ready()
        node = self._tree(request)
        limit = max(request.limit, 0)
        body: dict[str, Any] = {
            "query": compile_node(node),
            "sort": sort_spec(request.sort),
            "size": limit,
            "track_total_hits": True,
            "source_includes": [*HIT_SOURCE, *HIT_SOURCE_EXTRA],
            "timeout": f"{max(int(self.timeout * 1_000_000), 1)}micros",
        }
        aggs: dict[str, Any] = {}
        if request.collapse:
            body["collapse"] = {
                "field": "story_id",
                "inner_hits": {"name": "story", "size": 0},
            }
            aggs["stories"] = {
                "cardinality": {"field": "story_id", "precision_threshold": CARDINALITY_PRECISION}
            }
        if request.facets:
            aggs.update(_facet_aggs())
        if aggs:
            body["aggs"] = aggs
        # Elasticsearch refuses search_after with collapse on a multi-field sort, so a
        # collapsed cursor carries the next offset (deep collapsed paging stops at
        # the 10,000-result window); otherwise the cursor is the last sort key.
        offset = max(request.offset, 0)
        if request.cursor:
            key = decode_cursor(request.cursor, request.sort, request.collapse)
            if request.collapse:
                offset = key[0]
            else:
                body["search_after"] = key
                offset = 0
        if offset:
            if offset + limit > MAX_WINDOW:
                raise QueryError(
                    f"offset {offset} is past the first {MAX_WINDOW} results; "
                    "page with next_cursor instead (not available with collapse)"
                )
            body["from_"] = offset
        resp = self._call(self.client.search, index=self.alias, **body)
        if resp.get("timed_out"):
            raise QueryError(
                f"the query is too broad: it took longer than {self.timeout:g} s "
                "(NEWSWATCH_SEARCH_TIMEOUT); narrow it with more words, a field or a date range"
            )
        raw_hits = resp["hits"]["hits"]
        total = int(resp["hits"]["total"]["value"])
        if request.collapse:
            total = int(resp["aggregations"]["stories"]["value"])
        nodes = positive_nodes(node)
        hits = [_hit(h, request.collapse, nodes) for h in raw_hits]
        facets = _facets(resp.get("aggregations", {})) if request.facets else {}
        next_cursor = None
        if raw_hits and len(raw_hits) == limit:
            key = [offset + limit] if request.collapse else raw_hits[-1]["sort"]
            if not request.collapse or offset + limit < total:
                next_cursor = encode_cursor(request.sort, request.collapse, key)
        return SearchResult(total=total, hits=hits, facets=facets, next_cursor=next_cursor)


# --------------------------------------------------------------------------- helpers


def _version_of(name: str) -> int:
    m = re.search(r"-v(\d+)$", name)
    return int(m.group(1)) if m else 0


def _reason(exc: ApiError) -> str:
    try:
        err = exc.body.get("error", {})  # type: ignore[union-attr]
        root = (err.get("root_cause") or [err])[0]
        return str(root.get("reason") or err.get("reason") or exc)
    except AttributeError:
        return str(exc)


def _item_reason(op: dict[str, Any]) -> str:
    err = op.get("error")
    if isinstance(err, dict):
        reason = f"{err.get('type')}: {err.get('reason')}"
        cause = err.get("caused_by")
        if isinstance(cause, dict):
            reason += f" ({cause.get('reason')})"
        return reason
    return f"status {op.get('status')}: {err or 'unknown error'}"


def _facet_aggs() -> dict[str, Any]:
    order = [{"_count": "desc"}, {"_key": "asc"}]
    aggs: dict[str, Any] = {
        name: {"terms": {"field": field, "size": FACET_SIZE, "order": order}}
        for name, field in (
            ("source", "source"),
            ("lang", "lang"),
            ("event", "events"),
            ("place", "places"),
            ("entity", "entities"),
        )
    }
    aggs["day"] = {
        "date_histogram": {
            "field": "published",
            "calendar_interval": "day",
            "min_doc_count": 1,
            "format": "yyyy-MM-dd",
        }
    }  # every day with a match: the page's histogram needs the whole range
    return aggs


def _facets(aggs: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    """Aggregations -> the facet lists SQLite returns: top 20, count desc then value."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name in ("source", "lang", "day", "event", "place", "entity"):
        buckets = aggs.get(name, {}).get("buckets", [])
        pairs = [
            (str(b.get("key_as_string", b["key"])), int(b["doc_count"]))
            for b in buckets
            if b["doc_count"]
        ]
        if name == "day":  # every day, in date order: the page draws the whole range
            out[name] = sorted(pairs)
            continue
        pairs.sort(key=lambda p: (-p[1], p[0]))
        out[name] = pairs[:FACET_SIZE]
    return out


def _hit(h: dict[str, Any], collapse: bool, nodes: list[ast.Term | ast.Phrase]) -> SearchHit:
    src = h.get("_source", {})
    snippet = snippet_for(src.get("text") or "", nodes)
    collapsed = 0
    if collapse:
        inner = h.get("inner_hits", {}).get("story", {}).get("hits", {}).get("total", {})
        collapsed = max(int(inner.get("value", 1)) - 1, 0)
    score = h.get("_score")
    return SearchHit(
        id=src.get("id", h["_id"]),
        title=src.get("title", ""),
        url=src.get("url", ""),
        source=src.get("source", ""),
        lang=src.get("lang"),
        published=_parse_dt(src.get("published")),
        score=float(score) if score is not None else 0.0,
        snippet=snippet,
        story_id=src.get("story_id", ""),
        events=list(src.get("events", [])),
        entities=list(src.get("entity_records", [])),
        collapsed=collapsed,
    )
