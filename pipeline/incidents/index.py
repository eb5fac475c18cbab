"""Incident records in the search backends: a separate index per backend.

Tantivy (the embedded default) keeps ``<data_dir>/incidents-index``;
Elasticsearch an index ``<NEWSWATCH_ELASTICSEARCH_INDEX>-incidents``. The SQLite
backend has no incident index: incidents are listed from state there. Each
document is the incident record (searchable text: evidence in both languages,
place and actor names; keyword fields: type, places, actors, languages) so an
incident is found by words in any of its reports. Merged incidents are deleted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pipeline.config import Settings
from pipeline.errors import BackendUnavailable


def doc_text(rec: dict[str, Any]) -> str:
    parts = [e.get("evidence", "") for e in rec.get("evidence", [])]
    parts += [a.get("title", "") for a in rec.get("articles", [])]
    parts += [p.get("name", "") for p in rec.get("places", [])]
    parts += [a.get("name", "") for a in rec.get("actors", [])]
    return "\n".join(p for p in parts if p)


class IncidentIndex(Protocol):
    def upsert(self, records: Sequence[dict[str, Any]]) -> None: ...
    def delete(self, ids: Sequence[str]) -> None: ...
    def search(self, text: str = "", types: Sequence[str] = (), limit: int = 50) -> list[str]: ...
    def close(self) -> None: ...


class TantivyIncidents:
    def __init__(self, path: Path) -> None:
        import tantivy

        self._t = tantivy
        sb = tantivy.SchemaBuilder()
        sb.add_text_field("id", stored=True, tokenizer_name="raw")
        sb.add_text_field("type", stored=False, tokenizer_name="raw")
        sb.add_text_field("keys", stored=False, tokenizer_name="raw")  # place/actor ids, langs
        sb.add_text_field("text", stored=False)
        sb.add_text_field("event_date", stored=False, tokenizer_name="raw")
        sb.add_bytes_field("record", stored=True, indexed=False)
        self.schema = sb.build()
        path.mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(self.schema, path=str(path))

    def upsert(self, records: Sequence[dict[str, Any]]) -> None:
        writer = self.index.writer(heap_size=15_000_000, num_threads=1)
        for rec in records:
            writer.delete_documents_by_term("id", rec["id"])
            keys = [p["id"] for p in rec.get("places", [])] + [
                a["id"] for a in rec.get("actors", [])
            ]
            writer.add_document(
                self._t.Document(
                    id=rec["id"],
                    type=rec.get("type", ""),
                    keys=keys + list(rec.get("languages", [])),
                    text=doc_text(rec),
                    event_date=rec.get("event_date", ""),
                    record=json.dumps(rec, ensure_ascii=False).encode(),
                )
            )
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        writer = self.index.writer(heap_size=15_000_000, num_threads=1)
        for i in ids:
            writer.delete_documents_by_term("id", i)
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()

    def search(self, text: str = "", types: Sequence[str] = (), limit: int = 50) -> list[str]:
        q = self._t.Query
        must: list[Any] = []
        if text.strip():
            words = [w for w in text.split() if w]
            must.append(
                q.boolean_query(
                    [
                        (self._t.Occur.Must, q.term_query(self.schema, "text", w.casefold()))
                        for w in words
                    ]
                )
            )
        if types:
            must.append(
                q.boolean_query(
                    [(self._t.Occur.Should, q.term_query(self.schema, "type", t)) for t in types]
                )
            )
        query = q.boolean_query([(self._t.Occur.Must, m) for m in must]) if must else q.all_query()
        self.index.reload()  # see what another writer committed
        searcher = self.index.searcher()
        hits = searcher.search(query, limit).hits
        out = []
        for _score, addr in hits:
            doc = searcher.doc(addr)
            out.append(doc.get_first("id"))
        return sorted(out)

    def close(self) -> None:
        return None


class ElasticIncidents:
    def __init__(self, settings: Settings) -> None:
        from pipeline.search.elastic import ElasticsearchBackend

        self.client = ElasticsearchBackend._client(settings)
        self.name = f"{settings.elasticsearch_index}-incidents"
        self._ready = False

    def _ensure(self) -> None:
        if self._ready:
            return
        try:
            if not self.client.indices.exists(index=self.name):
                self.client.indices.create(
                    index=self.name,
                    mappings={
                        "dynamic": False,
                        "properties": {
                            "id": {"type": "keyword"},
                            "type": {"type": "keyword"},
                            "keys": {"type": "keyword"},
                            "text": {"type": "text"},
                            "event_date": {"type": "date"},
                            "reports": {"type": "integer"},
                            "location": {"type": "geo_point"},
                        },
                    },
                )
        except Exception as exc:
            if "resource_already_exists" not in str(exc):
                raise BackendUnavailable(
                    f"Elasticsearch incidents index {self.name}: {exc}"
                ) from exc
        self._ready = True

    def upsert(self, records: Sequence[dict[str, Any]]) -> None:
        from elasticsearch.helpers import bulk

        self._ensure()
        actions = []
        for rec in records:
            top = (rec.get("places") or [{}])[0]
            doc = {
                **rec,
                "keys": [p["id"] for p in rec.get("places", [])]
                + [a["id"] for a in rec.get("actors", [])]
                + list(rec.get("languages", [])),
                "text": doc_text(rec),
            }
            if top.get("lat") is not None:
                doc["location"] = {"lat": top["lat"], "lon": top["lon"]}
            actions.append({"_index": self.name, "_id": rec["id"], "_source": doc})
        try:
            bulk(self.client, actions, refresh="wait_for")
        except Exception as exc:
            raise BackendUnavailable(f"Elasticsearch incidents index {self.name}: {exc}") from exc

    def delete(self, ids: Sequence[str]) -> None:
        from elasticsearch.helpers import bulk

        if not ids:
            return
        self._ensure()
        actions = [{"_op_type": "delete", "_index": self.name, "_id": i} for i in ids]
        bulk(self.client, actions, refresh="wait_for", raise_on_error=False)

    def search(self, text: str = "", types: Sequence[str] = (), limit: int = 50) -> list[str]:
        self._ensure()
        must: list[dict[str, Any]] = []
        if text.strip():
            must.append({"match": {"text": {"query": text, "operator": "and"}}})
        if types:
            must.append({"terms": {"type": list(types)}})
        res = self.client.search(
            index=self.name,
            query={"bool": {"must": must}} if must else {"match_all": {}},
            size=limit,
        )
        return sorted(h["_id"] for h in res["hits"]["hits"])

    def close(self) -> None:
        self.client.close()


def open_incident_index(settings: Settings) -> IncidentIndex | None:
    """The incident index of the configured backend; None for SQLite (state serves)."""
    if settings.search_backend == "elasticsearch":
        return ElasticIncidents(settings)
    if settings.search_backend == "tantivy":
        return TantivyIncidents(settings.data_dir / "incidents-index")
    return None


def index_pending(settings: Settings, store: Any) -> dict[str, int]:
    """Send changed incidents to the index; merged ones are deleted. With the
    backend down they stay pending (counted) and the next run sends them."""
    from pipeline.store import incidents as state

    idx = open_incident_index(settings)
    if idx is None:
        return {"incidents_indexed": 0, "incidents_index_pending": 0}
    done = 0
    try:
        while batch := state.pending_index(store, 500):
            live = [r for r in batch if not r.get("_merged_into") and r.get("reports")]
            gone = [r["id"] for r in batch if r not in live]
            idx.upsert([{k: v for k, v in r.items() if k != "_merged_into"} for r in live])
            idx.delete(gone)
            state.mark_incidents_indexed(store, [r["id"] for r in batch])
            done += len(batch)
    except BackendUnavailable:
        return {
            "incidents_indexed": done,
            "incidents_index_pending": len(state.pending_index(store, 10_000)),
        }
    finally:
        idx.close()
    return {"incidents_indexed": done, "incidents_index_pending": 0}
