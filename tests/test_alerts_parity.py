"""The same rules over the same corpus raise the same alerts on SQLite and Elasticsearch.

Two fresh installs ingest the demo site from one server (so article and story
ids agree), one per backend, with the same alerts file. In CI
(NEWSWATCH_REQUIRE_SERVERS=1) a missing Elasticsearch fails this test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import require_elasticsearch, unique_name
from sqlalchemy import select

from pipeline.alerts.stage import alerts_after_index
from pipeline.alerts.tables import AlertRow
from pipeline.config import Settings, load_settings
from pipeline.demo.corpus import DEMO_SETTINGS, start_demo_server, write_feeds_file
from pipeline.localserver import LocalServer
from pipeline.run import ingest_cycle
from pipeline.store import open_store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

RULES = """
defaults:
  channels: [file://alerts.jsonl]
rules:
  - name: mobilisation-default
    query: PLACEHOLDER
  - {name: sirte, query: 'place:sirte'}
  - {name: arabic-columns, query: 'تحشيدات OR بأرتال OR رتل', languages: [ar]}
  - {name: strikes, query: 'event:airstrike OR event:shelling OR airstrike*'}
  - {name: phrase, query: '"political dialogue" AND NOT event:mobilisation'}
  - {name: wire-only, query: 'forces', sources: [coastline-wire]}
"""


@pytest.fixture(scope="module")
def demo_server() -> Iterator[LocalServer]:
    server = start_demo_server()
    yield server
    server.stop()


def alerts_file(tmp: Path) -> Path:
    from pipeline.alerts.rules import load_alerts_file

    default = next(
        r for r in load_alerts_file(ROOT / "alerts.yaml").rules if r.name == "mobilisation"
    )
    path = tmp / "alerts.yaml"
    quoted = default.query.replace("'", "''").replace("\n", " ")
    path.write_text(RULES.replace("PLACEHOLDER", f"'{quoted}'"))
    return path


def install(server: LocalServer, data: Path, rules: Path, **extra: object) -> Settings:
    data.mkdir(parents=True, exist_ok=True)
    feeds = write_feeds_file(server.url, data / "feeds.yaml")
    return load_settings(
        **{**DEMO_SETTINGS, "data_dir": data, "feeds_file": feeds, "alerts_file": rules, **extra}
    )


def raised(settings: Settings) -> set[tuple[str, str, str, int]]:
    store = open_store(settings)
    try:
        with store.session() as s:
            return {
                (a.rule, a.story_id, a.article_id, a.more_reports)
                for a in s.scalars(select(AlertRow).where(AlertRow.kind == "match"))
            }
    finally:
        store.close()


def test_sqlite_and_elasticsearch_raise_the_same_alerts(
    demo_server: LocalServer, tmp_path: Path
) -> None:
    es_url = require_elasticsearch()
    rules = alerts_file(tmp_path)
    index = unique_name("nwalerts")
    lite = install(demo_server, tmp_path / "sqlite", rules)
    es = install(
        demo_server,
        tmp_path / "es",
        rules,
        search_backend="elasticsearch",
        elasticsearch_url=[es_url],
        elasticsearch_index=index,
        elasticsearch_timeout=30,
    )
    try:
        s1 = ingest_cycle(lite, after_index=alerts_after_index)
        s2 = ingest_cycle(es, after_index=alerts_after_index)
        assert s1["indexed"] == s2["indexed"] > 0
        a1, a2 = raised(lite), raised(es)
        assert a1 == a2
        fired = {rule for rule, *_ in a1}
        # Every rule found something, so the comparison covers each kind of query.
        assert fired == {
            "mobilisation-default",
            "sirte",
            "arabic-columns",
            "strikes",
            "phrase",
            "wire-only",
        }
        # Second runs: nothing new on either side.
        assert ingest_cycle(lite, after_index=alerts_after_index)["alerts"] == 0
        assert ingest_cycle(es, after_index=alerts_after_index)["alerts"] == 0
    finally:
        httpx.delete(f"{es_url.rstrip('/')}/{index}*", timeout=30)
