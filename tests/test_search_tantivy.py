"""The Tantivy backend: the same behaviour suite as SQLite, plus what only it has.

The shared tests are imported from ``test_search_sqlite`` and run here
against a ``backend`` fixture that is a real Tantivy index in a temporary
data dir (pytest resolves fixtures in the collecting module). Tantivy's own
tests cover the writer lock across processes, generations and ``CURRENT``,
readers seeing other processes' commits, and the search time budget.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_search_sqlite import (  # noqa: F401  (collected here against the fixture below)
    ALL_IDS,
    ARTICLES,
    INGESTED,
    art,
    docs,
    ids,
    resolve,
    test_arabic_folding,
    test_broken_queries_raise_query_error,
    test_collapse_by_story,
    test_cursor_paging_returns_every_id_once,
    test_date_ranges,
    test_date_sort_newest_first_nulls_last,
    test_delete,
    test_facets_count_all_matches,
    test_fts_syntax_in_terms_is_data,
    test_fuzzed_queries_never_raise_sqlite_errors,
    test_hit_fields,
    test_keyword_fields,
    test_request_filters,
    test_snippet_is_short,
    test_snippets_mark_matches_and_escape_html,
    test_text_operators,
    test_title_match_ranks_first,
    test_title_weighs_more_than_text,
    test_upsert_replaces_old_content,
)

from pipeline.errors import BackendUnavailable, QueryError
from pipeline.search import tantivy as tv
from pipeline.search.base import SearchBackend, SearchRequest
from pipeline.search.docs import doc_from_article
from pipeline.search.tantivy import TantivyBackend

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def backend(tmp_path: Path) -> Iterator[TantivyBackend]:
    b = TantivyBackend(tmp_path / "search-index", resolve=resolve)
    assert b.created
    report = b.upsert(docs())
    assert sorted(report.indexed) == sorted(ALL_IDS) and not report.errors
    yield b
    b.close()


def test_is_a_search_backend(backend: TantivyBackend) -> None:
    assert isinstance(backend, SearchBackend)
    assert backend.name == "tantivy"
    assert backend.count() == len(ARTICLES)


def test_upsert_is_idempotent_tantivy(backend: TantivyBackend) -> None:
    before = backend.search(SearchRequest(query="mobilisation OR Tripoli", facets=True))
    for _ in range(3):
        report = backend.upsert(docs())
        assert sorted(report.indexed) == sorted(ALL_IDS)
    assert backend.count() == len(ARTICLES)
    after = backend.search(SearchRequest(query="mobilisation OR Tripoli", facets=True))
    assert after.record() == before.record()
    # the same id twice in one batch: the last version wins, stored once
    first = doc_from_article(art("dup", "Old title", "Old text."), INGESTED)
    last = doc_from_article(art("dup", "New title", "New text."), INGESTED)
    backend.upsert([first, last])
    assert ids(backend, "dup OR new OR old") == {"dup"}
    assert ids(backend, "old") == set()


def test_rebuild_switches_generation_and_drops_the_old(backend: TantivyBackend) -> None:
    root = backend.root
    before = (root / "CURRENT").read_text().strip()
    n = backend.rebuild(iter([d for d in docs() if d.id != "e1"]))
    assert n == len(ARTICLES) - 1
    after = (root / "CURRENT").read_text().strip()
    assert after != before and not (root / before).exists()
    assert ids(backend, '"mobilisation"') == {"e2"}


def test_a_second_reader_sees_commits_and_rebuilds(backend: TantivyBackend) -> None:
    other = TantivyBackend(backend.root)
    assert not other.created and other.count() == len(ARTICLES)
    backend.upsert([doc_from_article(art("fresh", "Fresh", "A brand new report."), INGESTED)])
    assert {h.id for h in other.search(SearchRequest(query="brand")).hits} == {"fresh"}
    backend.rebuild(iter(docs()[:2]))
    assert other.count() == 2


def test_arabic_snippet_shows_the_original_spelling(backend: TantivyBackend) -> None:
    text = "أعلنت غرفة عمليات سرت والجفرة عن وصول المرتزقة إلى الجُفرة."
    backend.upsert([doc_from_article(art("ar1", "خبر", text, lang="ar"), INGESTED)])
    (hit,) = backend.search(SearchRequest(query="جفرة AND مرتزقة")).hits
    assert hit.snippet.startswith("أعلنت غرفة عمليات")
    assert "<mark>والجفرة</mark>" in hit.snippet and "<mark>الجُفرة</mark>" in hit.snippet
    assert "<mark>المرتزقة</mark>" in hit.snippet
    assert "غرفه" not in hit.snippet and "اعلنت" not in hit.snippet


def test_trailing_wildcard_over_a_large_vocabulary_is_too_broad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = TantivyBackend(tmp_path / "idx")
    words = " ".join(f"m{i:05d}" for i in range(300))
    b.upsert([doc_from_article(art("v", "Vocabulary", words), INGESTED)])
    monkeypatch.setattr(tv, "MAX_EXPANSIONS", 100)
    with pytest.raises(QueryError, match=r"too broad.*m\*.*add letters"):
        b.search(SearchRequest(query="m*"))
    assert {h.id for h in b.search(SearchRequest(query="m0001*")).hits} == {"v"}


def test_time_budget_turns_a_slow_search_into_a_clear_error(tmp_path: Path) -> None:
    b = TantivyBackend(tmp_path / "idx", timeout=0.000001)
    b.upsert(docs())
    with pytest.raises(QueryError, match="too broad: it took longer than"):
        for _ in range(50):  # the budget is far below one search
            b.search(SearchRequest(query="mobilisation OR Sirte", facets=True, collapse=True))


def _hold_writer_lock(path: str, ready: multiprocessing.Event, seconds: float) -> None:  # type: ignore[valid-type]
    with tv.writer_lock(Path(path), 60, "test"):
        ready.set()
        time.sleep(seconds)


def test_a_second_writer_waits_with_a_message_then_writes(
    backend: TantivyBackend, capfd: pytest.CaptureFixture[str]
) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_writer_lock, args=(str(backend.lock_file), ready, 1.5))
    holder.start()
    try:
        assert ready.wait(60)
        t0 = time.monotonic()
        report = backend.upsert([doc_from_article(art("late", "Late", "Waited."), INGESTED)])
        assert time.monotonic() - t0 >= 0.5
        assert report.indexed == ["late"]
        assert "waiting for another newswatch process" in capfd.readouterr().err
    finally:
        holder.join(60)


def test_a_writer_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    b = TantivyBackend(tmp_path / "idx", lock_timeout=0.3)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_writer_lock, args=(str(b.lock_file), ready, 3))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(BackendUnavailable, match="busy: another newswatch process"):
            b.upsert(docs())
    finally:
        holder.join(60)
    assert sorted(b.upsert(docs()).indexed) == sorted(ALL_IDS)


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, os
    sys.path.insert(0, {tests!r})
    from search_corpus import generate_docs
    from pipeline.search.tantivy import TantivyBackend
    b = TantivyBackend({path!r})
    def slow():
        for i, d in enumerate(generate_docs(3000, seed=5)):
            if i == 1500:
                print("halfway", flush=True)
                import time; time.sleep(60)
            yield d
    b.rebuild(slow()) if {mode!r} == "rebuild" else b.upsert(slow())
    """
)


@pytest.mark.parametrize("mode", ["rebuild", "upsert"])
def test_kill_9_mid_write_leaves_the_last_commit(backend: TantivyBackend, mode: str) -> None:
    code = KILL_SCRIPT.format(tests=str(ROOT / "tests"), path=str(backend.root), mode=mode)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "halfway"
    finally:
        os.kill(proc.pid, 9)
        proc.wait(60)
    # the killed writer's work is gone; the committed index answers in full, and
    # the lock died with the process
    again = TantivyBackend(backend.root)
    assert again.count() == len(ARTICLES)
    assert ids(again, '"mobilisation"') == {"e1", "e2"}
    assert sorted(again.upsert(docs()).indexed) == sorted(ALL_IDS)
    assert again.rebuild(iter(docs())) == len(ARTICLES)
    assert sorted(p.name for p in again.root.glob("v*")) == [
        (again.root / "CURRENT").read_text().strip()
    ]


def test_an_index_of_an_older_layout_is_replaced_and_flagged_for_a_build(tmp_path: Path) -> None:
    import tantivy

    root = tmp_path / "search-index"
    (root / "v1").mkdir(parents=True)
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("old_field", stored=True)
    old = tantivy.Index(sb.build(), path=str(root / "v1"))
    w = old.writer(15_000_000, 1)
    w.commit()
    w.wait_merging_threads()
    (root / "CURRENT").write_text("v1\n")
    b = TantivyBackend(root)
    assert b.created and (root / "CURRENT").read_text().strip() == "v2"
    assert sorted(b.upsert(docs()).indexed) == sorted(ALL_IDS)
