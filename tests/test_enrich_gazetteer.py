"""The gazetteer data and the name matcher: coverage, coordinates, variants, boundaries."""

from __future__ import annotations

import pytest

from pipeline.enrich import enrich_text
from pipeline.enrich.gazetteer import entries, get_entity, name_index, resolve
from pipeline.models import ENTITY_TYPES


def _ids(text: str, lang: str) -> list[str]:
    return [e.id for e in enrich_text(text, lang=lang).entities]


def test_gazetteer_size_and_fields() -> None:
    es = entries().values()
    places = [e for e in es if e.type == "place" and not e.foreign]
    assert len(places) >= 150
    kinds = {e.kind for e in places}
    assert {
        "city",
        "town",
        "oil_field",
        "oil_terminal",
        "air_base",
        "border_crossing",
        "region",
    } <= kinds
    for e in es:
        assert e.type in ENTITY_TYPES
        if e.extra.get("source") != "geonames":  # curated entries carry Arabic names
            assert e.names_ar, f"{e.id} has no Arabic name"
        assert e.id.isascii() and e.id == e.id.lower()
    for t in ("person", "org", "armed_group", "foreign_actor"):
        assert sum(e.type == t for e in es) >= 10


def test_places_have_coordinates_inside_libya() -> None:
    for e in entries().values():
        if e.type != "place":
            continue
        assert e.lat is not None and e.lon is not None and e.region, e.id
        if e.foreign or e.outside_land_box:
            continue
        assert 19.5 <= e.lat <= 33.2 and 9.3 <= e.lon <= 25.2, e.id


def test_known_coordinates() -> None:
    for eid, lat, lon in [
        ("tripoli", 32.89, 13.19),
        ("benghazi", 32.12, 20.07),
        ("sirte", 31.21, 16.59),
        ("misrata", 32.38, 15.09),
        ("sabha", 27.04, 14.43),
        ("tobruk", 32.09, 23.95),
    ]:
        g = get_entity(eid)
        assert g is not None
        assert abs(g.lat - lat) < 0.1 and abs(g.lon - lon) < 0.1


def test_no_name_belongs_to_two_entities() -> None:
    """A name may be shared only by places of different countries (Tripoli LY/LB)."""
    table = entries()
    clashes = {}
    for k, ids in name_index().items():
        if len(ids) < 2:
            continue
        places = [table[i] for i in ids if table[i].type == "place"]
        countries = [p.country for p in places]
        if len(places) != len(ids) or len(set(countries)) != len(countries):
            clashes[k] = ids
    assert not clashes
    assert set(name_index()["tripoli"]) >= {"tripoli", "tripoli_lb"}


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("Hafter and Hifter are spellings of Haftar.", "en", "khalifa_haftar"),
        ("Clashes in Sirt and Surt.", "en", "sirte"),
        ("Misurata port reopened.", "en", "misrata"),
        ("وصلت تعزيزات إلى مصراتة", "ar", "misrata"),
        ("قوات حفترَ في سِرْت", "ar", "khalifa_haftar"),
        ("قوات حفتر في سِرْت", "ar", "sirte"),
        ("تعزيزات للجفرة", "ar", "jufra"),
        ("وبالجفرة قوات", "ar", "jufra"),
        ("وصل رتل إلى الخمس مساء", "ar", "al_khums"),
    ],
)
def test_variants_and_arabic_clitics(text: str, lang: str, expected: str) -> None:
    assert expected in _ids(text, lang)


@pytest.mark.parametrize(
    ("text", "lang", "absent"),
    [
        ("اجتمعت الدول الخمس الكبرى", "ar", "al_khums"),
        ("خمس سيارات عسكرية", "ar", "al_khums"),
        ("من هذه الزاوية يبدو الأمر مختلفا", "ar", "zawiya"),
        ("أعلنت المؤسسة القوة القاهرة", "ar", "cairo"),
        ("Attila the hun was not in Libya; a ghat is a flight of steps.", "en", "hun"),
        ("A ghat is a flight of steps.", "en", "ghat"),
        ("The Huns and Brakes.", "en", "hun"),
        ("Sabrathan and Sirtes are not words.", "en", "sirte"),
    ],
)
def test_no_false_hits_on_common_words(text: str, lang: str, absent: str) -> None:
    assert absent not in _ids(text, lang)


def test_capitalised_short_names_match() -> None:
    assert "hun" in _ids("Fighting was reported in Hun and Waddan.", "en")
    assert "ghat" in _ids("Flights to Ghat resumed.", "en")


def test_longest_match_wins() -> None:
    ids = _ids("Saddam Haftar visited Cairo.", "en")
    assert "saddam_haftar" in ids and "khalifa_haftar" not in ids


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("person", "Hafter", "khalifa_haftar"),
        ("person", "حفتر", "khalifa_haftar"),
        ("place", "Sirt", "sirte"),
        ("place", "سِرت", "sirte"),
        ("place", "الجفره", "jufra"),
        ("place", "بالجفرة", "jufra"),
        ("org", "5+5 joint military commission", "jmc_5_5"),
        ("actor", "wagner", "wagner_group"),
        ("entity", "GNA", "gna"),
        ("event", "mobilization", "mobilisation"),
        ("event", "تحشيد", "mobilisation"),
        ("event", "ceasefire_violation", "ceasefire_violation"),
        ("place", "Some New Town", "some_new_town"),
        ("person", "Sirte", "sirte"),
    ],
)
def test_resolve(field: str, value: str, expected: str) -> None:
    assert resolve(field, value) == expected


def test_get_entity_fields() -> None:
    g = get_entity("sirte")
    assert g is not None and g.name == "Sirte" and "سرت" in g.names_ar and "Sirt" in g.aliases
    assert g.region == "tripolitania"
    assert get_entity("nowhere") is None
