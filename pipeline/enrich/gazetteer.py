"""The Libya gazetteer: canonical entities, their names, and name resolution.

Entries live in YAML under ``data/`` (places with coordinates and region;
people, organisations, armed groups and foreign actors), each with English
and Arabic names. The data is read once per process; every lookup goes
through folded keys (:func:`normalise.fold_key`), so case, Arabic letter
forms and diacritics never decide whether a name is known.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

import yaml

from pipeline.enrich.normalise import fold_key
from pipeline.textnorm import has_arabic

ACTOR_SECTIONS = {
    "people": "person",
    "orgs": "org",
    "armed_groups": "armed_group",
    "foreign_actors": "foreign_actor",
}

# Which entity types a query field accepts (see :func:`resolve`).
FIELD_TYPES: dict[str, tuple[str, ...]] = {
    "entity": ("person", "org", "armed_group", "foreign_actor", "place"),
    "person": ("person",),
    "org": ("org",),
    "actor": ("person", "armed_group", "foreign_actor"),  # as search.docs.ACTOR_TYPES
    "place": ("place",),
}


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    id: str
    name: str
    type: str
    lat: float | None = None
    lon: float | None = None
    region: str | None = None
    kind: str | None = None
    foreign: bool = False
    outside_land_box: bool = False
    names_ar: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    cased: frozenset[str] = frozenset()
    ar_ambiguous: frozenset[str] = frozenset()
    contains: tuple[str, ...] = ()
    country: str | None = None  # ISO alpha-2, for places and states
    population: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases, *self.names_ar)


# libyaml's loader reads the same documents ~7x faster than the pure-Python one,
# which dominated start-up; the pure one stays as the fallback.
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_text(text: str) -> Any:
    """``yaml.safe_load`` with the C loader when PyYAML has it."""
    return yaml.load(text, Loader=SAFE_LOADER)  # a safe loader either way


def _load_yaml(name: str) -> dict[str, Any]:
    text = resources.files("pipeline.enrich").joinpath("data").joinpath(name).read_text("utf-8")
    return load_yaml_text(text)


CITY_FORCE_NOUNS_EN = (
    "forces", "fighters", "brigades", "militias", "units", "troops", "armed groups"
)  # fmt: skip
CITY_FORCE_NOUNS_AR = ("قوات", "كتائب", "مقاتلو", "مقاتلي", "ميليشيات", "مسلحو", "مسلحي", "وحدات")


def _city_forces(raw: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Names of forces named by their city, made by rule ("Misratan fighters", "مقاتلو مصراتة")."""
    spec = raw.get("city_forces") or {}
    en = [f"{c} {n}" for c in spec.get("en", ()) for n in CITY_FORCE_NOUNS_EN]
    ar = [f"{n} {c}" for c in spec.get("ar", ()) for n in CITY_FORCE_NOUNS_AR]
    return en, ar


def _entry(raw: dict[str, Any], etype: str) -> GazetteerEntry:
    city_en, city_ar = _city_forces(raw)
    aliases = [*(raw.get("aliases") or ()), *city_en]
    names_ar = [*(raw.get("ar") or ()), *city_ar]
    return GazetteerEntry(
        id=raw["id"],
        name=raw["name"],
        type=etype,
        lat=raw.get("lat"),
        lon=raw.get("lon"),
        region=raw.get("region"),
        kind=raw.get("kind"),
        foreign=bool(raw.get("foreign", False)),
        outside_land_box=bool(raw.get("outside_land_box", False)),
        names_ar=tuple(dict.fromkeys(names_ar)),
        aliases=tuple(dict.fromkeys(aliases)),
        cased=frozenset(raw.get("cased") or ()),
        ar_ambiguous=frozenset(raw.get("ar_ambiguous") or ()),
        contains=tuple(raw.get("contains") or ()),
        country=raw.get("country") or ("LY" if etype == "place" else None),
        population=int(raw.get("population") or 0),
    )


def _slug_id(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.casefold()).strip("_")


@cache
def countries() -> list[dict[str, Any]]:
    """Countries with names, demonyms and regions (data/countries.yaml)."""
    return list(_load_yaml("countries.yaml")["countries"])


@cache
def entries() -> dict[str, GazetteerEntry]:
    """All entries by id, loaded once per process.

    Order matters: curated places, then curated actors, then states, then the
    places generated from GeoNames (scripts/gen_gazetteer.py); a name listed
    by several entries goes to the first, and curated entries always win.
    Rule-made spelling variants of curated names are added to their aliases.
    """
    out: dict[str, GazetteerEntry] = {}
    curated_places = _load_yaml("places.yaml")["places"]
    for raw in curated_places:
        out[raw["id"]] = _entry(raw, "place")
    actors = _load_yaml("actors.yaml")
    for section, etype in ACTOR_SECTIONS.items():
        for raw in actors[section]:
            if raw["id"] in out:
                raise ValueError(f"duplicate gazetteer id {raw['id']!r}")
            out[raw["id"]] = _entry(raw, etype)
    generated = json.loads(
        resources.files("pipeline.enrich")
        .joinpath("data")
        .joinpath("places_geonames.json")
        .read_text("utf-8")
    )
    place_keys = {
        fold_key(str(n))
        for raw in [*curated_places, *generated["places"]]
        for n in [raw["name"], *(raw.get("aliases") or []), *(raw.get("ar") or [])]
    }
    for c in countries():
        if not c.get("actor"):
            continue
        eid = _slug_id(c["names"][0])
        # "تونس" and "Algiers/الجزائر" also name cities: the city keeps the name
        names = [str(n) for n in c["names"] if fold_key(str(n)) not in place_keys]
        ar = tuple(n for n in c.get("ar") or () if fold_key(str(n)) not in place_keys)
        out.setdefault(
            eid,
            GazetteerEntry(
                id=eid,
                name=names[0],
                type="foreign_actor",
                kind="state",
                foreign=True,
                names_ar=ar,
                aliases=tuple(names[1:]),
                cased=frozenset(names),
                country=c["code"],
            ),
        )
    _add_foreign_forces(out)
    for eid, extra in generated.get("variants", {}).items():
        if eid in out:
            e = out[eid]
            out[eid] = replace(e, aliases=(*e.aliases, *extra))
    for raw in generated["places"]:
        if raw["id"] in out:
            continue
        entry = _entry(
            {**raw, "foreign": raw["country"] != "LY", "region": raw["country"].lower()}, "place"
        )
        out[raw["id"]] = replace(entry, extra={"source": "geonames"})
    return out


FORCE_NOUNS_EN = (
    "forces", "troops", "army", "soldiers", "military", "armed forces", "military personnel",
    "personnel", "units", "military advisers", "military advisors", "officers",
)  # fmt: skip
FIGHTER_NOUNS_EN = (
    "fighters", "gunmen", "armed men", "mercenaries", "militants", "rebels", "recruits",
    "militiamen", "armed groups",
)  # fmt: skip
FIGHTER_NOUNS_AR = ("مقاتلين", "مقاتلون", "مسلحين", "مسلحون", "مرتزقة", "عناصر")


def _add_foreign_forces(out: dict[str, GazetteerEntry]) -> None:
    """Each acting state's forces, and its nationals fighting in Libya, named by rule.

    "Lebanese army", "Egyptian soldiers", "القوات اللبنانية", "الجيش اللبناني",
    "جنود روس", "مسلحين سودانيين": one entry per country (``lebanese_forces``),
    the curated one when it exists, so that every demonym-and-noun spelling
    lands on the same id. A name another entry already carries stays there.
    """
    taken = {fold_key(n) for e in out.values() for n in e.all_names}
    for c in countries():
        if not c.get("actor") or not c.get("adj"):
            continue
        adj = str(c["adj"][0])
        ar_adj = [str(a) for a in c.get("ar_adj") or ()]
        ar_pl = [str(a) for a in c.get("ar_pl") or ()]
        en = [f"{adj} {n}" for n in FORCE_NOUNS_EN]
        ar = [f"القوات {a}" for a in ar_adj[:1]] + [f"الجيش {a}" for a in ar_adj[1:2]]
        ar += [f"قوات {a[2:]}" for a in ar_adj[:1] if a.startswith("ال")]
        ar += [f"جنود {p}" for p in ar_pl] + [f"عسكريين {p}" for p in ar_pl]
        ar += [f"عسكريون {p}" for p in ar_pl]
        _extend(out, taken, f"{_slug_id(adj)}_forces", f"{adj} forces", c["code"], en, ar)
        if c.get("fighters"):
            en = [f"{adj} {n}" for n in FIGHTER_NOUNS_EN]
            ar = [f"{n} {p}" for n in FIGHTER_NOUNS_AR for p in ar_pl]
            ar += [f"ال{n} ال{p}" for n in FIGHTER_NOUNS_AR for p in ar_pl]
            _extend(out, taken, str(c["fighters"]), f"{adj} fighters", c["code"], en, ar)


def _extend(
    out: dict[str, GazetteerEntry],
    taken: set[str],
    eid: str,
    name: str,
    country: str,
    en: list[str],
    ar: list[str],
) -> None:
    new_en = [n for n in en if fold_key(n) not in taken]
    new_ar = [n for n in ar if fold_key(n) not in taken]
    taken.update(fold_key(n) for n in [*new_en, *new_ar])
    if eid in out:
        e = out[eid]
        out[eid] = replace(
            e, aliases=(*e.aliases, *new_en), names_ar=(*e.names_ar, *new_ar), country=country
        )
    elif new_en or new_ar:
        out[eid] = GazetteerEntry(
            id=eid,
            name=name,
            type="foreign_actor",
            kind="forces",
            foreign=True,
            aliases=tuple(new_en),
            names_ar=tuple(new_ar),
            country=country,
        )


def get_entity(entity_id: str) -> GazetteerEntry | None:
    return entries().get(entity_id)


@cache
def name_index() -> dict[str, tuple[str, ...]]:
    """Folded name -> ids that carry it (first listed wins on a clash)."""
    index: dict[str, list[str]] = {}
    for entry in entries().values():
        for name in (entry.id, *entry.all_names):
            ids = index.setdefault(fold_key(name), [])
            if entry.id not in ids:
                ids.append(entry.id)
    return {k: tuple(v) for k, v in index.items()}


def _slug(value: str) -> str:
    return re.sub(r"[\s\-]+", "_", value.strip().casefold())


def _strip_article(value: str) -> str:
    """Arabic query words may come with clitics (والجفرة): try the bare name too."""
    m = re.match(r"^(?:[وف])?(?:[بلك])?(ال.+)$", value)
    return m.group(1) if m else value


def resolve(field: str, value: str) -> str:
    """Map a query value (any known name, variant, id or event label) to its canonical id.

    Why: analysts type "Hafter", "حفتر" or "Sirt"; the index stores canonical
    ids, so the query language resolves names here before compiling.
    Unknown values fall back to a slug of the value, so a query never fails
    just because a name is new.
    """
    if field == "event":
        from pipeline.enrich.events import resolve_event

        return resolve_event(value)
    key = fold_key(value)
    candidates = list(name_index().get(key, ()))
    if not candidates and has_arabic(value):
        candidates = list(name_index().get(fold_key(_strip_article(value)), ()))
    if not candidates:
        candidates = list(name_index().get(fold_key(_slug(value)), ()))
    allowed = FIELD_TYPES.get(field)
    for cid in candidates:
        entry = entries()[cid]
        if allowed is None or entry.type in allowed:
            return cid
    return _slug(value)
