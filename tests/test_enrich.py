"""Enrichment on real text: the canonical report, its Arabic twin, cues, offsets, JSONL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.enrich import detect_language, enrich_jsonl, enrich_text

FIXTURE = Path("/work/shared/fixtures/mobilisation-report-2020-11-24.txt")
if not FIXTURE.exists():
    FIXTURE = (
        Path(__file__).resolve().parents[2] / "shared/fixtures/mobilisation-report-2020-11-24.txt"
    )

ARABIC_TWIN = (
    "أعلنت حكومةُ الوفاق الوطني أنّ خليفة حفتر بدأ تحشيداً عسكرياً واسعاً في شرق ليبيا. "
    "وأكّد آمر غرفة عمليات سرت الجفرة وصولَ تعزيزاتٍ عسكرية لميليشيات حفتر قادمة من بنغازي "
    "باتجاه سرت وللجفرة ورأس لانوف. "
    "وأضاف أن هذه التحركات تعدّ خرقاً لاتفاق وقف إطلاق النار وتفاهمات اللجنة العسكرية المشتركة 5+5. "
    "ولا يزال مرتزقة فاغنر الروسية والجنجويد السودانيون منتشرين في سرت والجفرة، "
    "على أن يُجمعوا في طرابلس وبنغازي قبل ترحيلهم."
)
ENGLISH_TWIN = (
    "The Government of National Accord said Khalifa Haftar has begun a large military "
    "mobilisation in eastern Libya. The commander of the Sirte-Jufra Operations Room confirmed "
    "that military reinforcements for Haftar's militias are moving from Benghazi towards Sirte, "
    "Jufra and Ras Lanuf. He said these movements violate the ceasefire agreement and the "
    "understandings of the 5+5 Joint Military Commission. Wagner Group mercenaries and the "
    "Janjaweed are still deployed in Sirte and Jufra and are to be assembled in Tripoli and "
    "Benghazi before leaving."
)


@pytest.fixture(scope="module")
def report() -> str:
    return FIXTURE.read_text("utf-8")


def test_canonical_report_events_and_entities(report: str) -> None:
    r = enrich_text(report)
    assert r.lang == "en"
    types = {e.type for e in r.events}
    assert {"mobilisation", "ceasefire_violation", "foreign_forces"} <= types
    ents = {e.id: e for e in r.entities}
    assert ents["khalifa_haftar"].type == "person"
    for eid in ("gna", "jmc_5_5", "wagner_group", "janjaweed"):
        assert eid in ents
    for place in ("sirte", "jufra", "benghazi", "ras_lanuf", "tripoli"):
        assert ents[place].type == "place"
        assert ents[place].lat is not None and ents[place].lon is not None
    mob = next(e for e in r.events if e.type == "mobilisation")
    assert "mobilis" in mob.evidence and mob.evidence in report
    assert 0 < mob.confidence <= 1


def test_mentions_point_into_the_original_text(report: str) -> None:
    r = enrich_text(report)
    for ent in r.entities:
        for m in ent.mentions:
            assert report[m.start : m.end] == m.text
    sirte = next(e for e in r.entities if e.id == "sirte")
    # "Sirte-Jufra Operations Room" still names Sirte.
    assert len(sirte.mentions) >= 4


def test_arabic_twin_yields_the_same_ids() -> None:
    ar = enrich_text(ARABIC_TWIN)
    en = enrich_text(ENGLISH_TWIN)
    assert ar.lang == "ar" and en.lang == "en"
    ids_ar = {e.id for e in ar.entities}
    ids_en = {e.id for e in en.entities}
    wanted = {
        "gna",
        "khalifa_haftar",
        "sirte",
        "jufra",
        "benghazi",
        "ras_lanuf",
        "tripoli",
        "jmc_5_5",
        "wagner_group",
        "janjaweed",
    }
    assert wanted <= ids_ar
    assert wanted <= ids_en
    ev_ar = {e.type for e in ar.events}
    ev_en = {e.type for e in en.events}
    assert {"mobilisation", "ceasefire_violation", "foreign_forces"} <= ev_ar & ev_en
    for ent in ar.entities:
        for m in ent.mentions:
            assert ARABIC_TWIN[m.start : m.end] == m.text


@pytest.mark.parametrize(
    "text",
    [
        "The LNA denied any mobilisation of troops near Sirte on Sunday.",
        "Haftar threatened to mobilise his forces if the talks in Geneva failed.",
        "The UN renewed calls to demobilise the militias in Tripoli.",
        "The ministry announced the mobilisation of funds for schools in Misrata.",
        "نفى المتحدث باسم القيادة العامة أي تحشيد لقوات حفتر قرب سرت.",
        "هدد حفتر بحشد قواته إذا فشلت المحادثات.",
        "دعا المجلس الرئاسي إلى تسريح المجموعات المسلحة في طرابلس.",
        "أطلقت البلدية حملة لحشد الدعم والأموال لإعمار درنة.",
        "A car bomb exploded in Benghazi as a United Nations convoy passed by, killing three.",
        "An aid convoy carrying food and medicine reached Murzuq on Tuesday.",
    ],
)
def test_cues_block_mobilisation(text: str) -> None:
    assert "mobilisation" not in {e.type for e in enrich_text(text).events}


@pytest.mark.parametrize(
    "text",
    [
        "The LNA announced a general mobilisation of its units near Sirte on Sunday.",
        "Haftar mobilised his forces near Sirte after the talks in Geneva failed.",
        "وأكدت مصادر تحشيد قوات حفتر قرب سرت.",
        "حشد حفتر قواته وأرتالا عسكرية قرب سرت.",
    ],
)
def test_positive_twins_are_mobilisation(text: str) -> None:
    assert "mobilisation" in {e.type for e in enrich_text(text).events}


def test_other_languages_are_not_tagged() -> None:
    fr = "Les forces du maréchal Haftar ont mobilisé des milliers de combattants près de Syrte."
    r = enrich_text(fr)
    assert r.lang == "fr"
    assert r.events == [] and r.entities == []
    assert detect_language("") is None


def test_title_counts_for_entities_and_events() -> None:
    r = enrich_text(
        "Residents described the scene.", lang="en", title="Haftar mobilises troops near Sirte"
    )
    ids = {e.id for e in r.entities}
    assert {"khalifa_haftar", "sirte"} <= ids
    assert all(
        m.start >= 0 and m.end <= len("Residents described the scene.")
        for e in r.entities
        for m in e.mentions
    )
    assert "mobilisation" in {e.type for e in r.events}


def test_enrich_jsonl_contract_and_bad_lines() -> None:
    lines = [
        json.dumps({"id": "a", "text": "Haftar's forces massed near Sirte with tanks and troops."}),
        "{not json",
        json.dumps({"id": "c", "lang": "ar", "text": "اشتباكات في طرابلس"}),
        json.dumps({"id": "d"}),
    ]
    out = [json.loads(x) for x in enrich_jsonl(lines)]
    assert [o.get("id") for o in out] == ["a", None, "c", "d"]
    assert "error" in out[1] and "error" in out[3]
    a = out[0]
    assert a["events"][0]["type"] == "mobilisation"
    assert set(a["events"][0]) >= {"type", "confidence", "evidence"}
    sirte = next(e for e in a["entities"] if e["id"] == "sirte")
    assert sirte["name"] == "Sirte" and "lat" in sirte and "lon" in sirte
    assert sirte["mentions"] == [{"text": "Sirte", "start": 28, "end": 33}]
    assert any(e["type"] == "armed_clash" for e in out[2]["events"])
