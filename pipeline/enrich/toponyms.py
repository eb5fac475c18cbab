"""Toponym resolution: which country a place name in a text belongs to.

Tripoli is in Libya and in Lebanon; Al Bayda in Libya and in Yemen; Zawiya
in Libya, Syria and Palestine. A gazetteer that always answers "Libya" put
Lebanese street protests on the Libyan map and into ``place:Tripoli``. Each
place mention here gets one entry, chosen by what the text says:

1. a country attached to the name wins outright: "Tripoli, in northern
   Lebanon", "Lebanon's second city, Tripoli", "طرابلس اللبنانية", "Al Bayda
   province in central Yemen". If the gazetteer has no such place in that
   country, the mention becomes a place of that country without coordinates
   (``al_marj_lb``): reported with its country, never as Libyan;
2. otherwise each candidate country scores the evidence of the sentence
   (country names, places that belong to one country only) three times, and
   of the whole text once; Libyan actors and the words Libya/Libyan count for
   Libya;
3. ties go to Libya, the country the product watches (the source's country).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from functools import cache
from typing import NamedTuple

import ahocorasick

from pipeline.enrich.gazetteer import GazetteerEntry, countries, entries
from pipeline.enrich.normalise import Folded, fold_key, word_start

HOME = "LY"


def _keys(words: str) -> set[str]:
    return {fold_key(w) for w in words.split()}


_FILL_AFTER = _keys(
    """a an in of northern southern eastern western central north south east west north-east
    north-west south-east south-west northeast northwest southeast southwest province
    governorate district city town village countryside region area valley
    في ب شمال جنوب شرق غرب وسط شمالي جنوبي شرقي غربي ريف محافظه منطقه مدينه بلده قريه"""
)
_FILL_BEFORE = _keys(
    """'s s second third largest biggest northern southern eastern western port city town
    village capital of the coastal border main"""
)


_ROLE_WORDS = _keys(
    """military army forces troops government officials ministry said says embassy envoy
    president navy air defence defense authorities"""
)


class Evidence(NamedTuple):
    # a NamedTuple: built many times per article, and a frozen dataclass's
    # __init__ costs several times a tuple's
    country: str
    kind: str  # name | adj | region | place | actor
    start: int
    end: int


@cache
def _country_automaton() -> ahocorasick.Automaton:
    """Every country name, demonym and region (folded), in one automaton."""
    table: dict[str, tuple[str, str]] = {}
    for c in countries():
        code = c["code"]
        for kind, keys in (
            ("name", [*c.get("names", []), *c.get("ar", [])]),
            ("adj", [*c.get("adj", []), *c.get("ar_adj", [])]),
            ("region", [*c.get("regions", []), *c.get("ar_regions", [])]),
        ):
            for k in keys:
                table.setdefault(fold_key(str(k)), (code, kind))
    auto = ahocorasick.Automaton()
    for key, (code, kind) in table.items():
        auto.add_word(key, (len(key), code, kind))
    auto.make_automaton()
    return auto


def country_evidence(f: Folded) -> list[Evidence]:
    """Country names, demonyms and regions in the text, longest first where they overlap."""
    text = f.text
    out: list[Evidence] = []
    for last, (length, code, kind) in _country_automaton().iter(text):
        start, end = last - length + 1, last + 1
        if end < len(text) and text[end].isalnum():
            continue
        if start > 0 and text[start - 1].isalnum():
            prefix = text[word_start(text, start) : start]
            if not (prefix and len(prefix) <= 2 and all(c in "وفبل" for c in prefix)):
                continue
        if kind == "name" and not _cased_ok(f, start, end):
            continue
        if out and out[-1].start >= start:
            continue  # a shorter name inside a longer one already taken
        while out and out[-1].end > start:
            out.pop()  # a longer name that contains the previous one
        out.append(Evidence(code, kind, start, end))
    return out


def _cased_ok(f: Folded, start: int, end: int) -> bool:
    """English country names count only capitalised ("Chad", not "chad")."""
    o_start, _ = f.span(start, end)
    ch = f.original[o_start : o_start + 1]
    return not ch.isalpha() or not ch.isascii() or ch.isupper()


def _only_fillers(segment: str, fillers: set[str]) -> bool:
    words = re.findall(r"\w+", segment.replace("'s", " s "))
    return len(words) <= 4 and all(w in fillers for w in words)


def _attached(
    text: str, start: int, end: int, ev: list[Evidence], ev_starts: list[int]
) -> str | None:
    """A country named right after or right before the place, with only filler between."""
    lo = bisect_left(ev_starts, start - 80)
    hi = bisect_right(ev_starts, end + 45)
    for e in ev[lo:hi]:
        if e.kind not in ("name", "adj", "region"):
            continue
        if 0 <= e.start - end <= 45 and _only_fillers(text[end : e.start], _FILL_AFTER):
            nxt = re.match(r"\W*(\w+)", text[e.end : e.end + 20])
            if nxt and nxt.group(1) in _ROLE_WORDS:
                continue  # "Jufra air base, the US military said": a new subject
            if e.kind == "adj" and e.start - end > 2 and not _arabic(text[e.start : e.end]):
                continue  # "Tripoli's Lebanese ..." is not an attachment; "طرابلس اللبنانية" is
            return e.country
        if 0 <= start - e.end <= 30 and e.kind in ("name", "region"):
            between = text[e.end : start]
            if between.startswith("'s") and _only_fillers(between, _FILL_BEFORE):
                return e.country
    return None


def _arabic(s: str) -> bool:
    return any("\u0600" <= c <= "\u06ff" for c in s)


def _synthetic(entry: GazetteerEntry, country: str) -> GazetteerEntry:
    """A place of another country the gazetteer does not know: named, no coordinates."""
    return GazetteerEntry(
        id=f"{entry.id}_{country.lower()}",
        name=entry.name,
        type="place",
        kind="place",
        foreign=country != HOME,
        country=country,
    )


def resolve_places(
    f: Folded,
    hits: Iterable[tuple[str, tuple[str, ...], int, int]],
    sentence_starts: list[int],
) -> tuple[list[str], dict[str, GazetteerEntry]]:
    """For each (id, alternatives, start, end) place hit, the resolved entry id.

    Returns the ids in hit order and the synthetic entries made for places of
    another country that the gazetteer does not hold.
    """
    table = entries()
    hits = list(hits)
    ev = country_evidence(f)
    # Places that belong to one country only are evidence for it; so are actors.
    for eid, alts, s, e in hits:
        entry = table[eid]
        if entry.type == "place" and len({table[a].country for a in alts}) == 1:
            ev.append(Evidence(entry.country or HOME, "place", s, e))
        elif entry.type in ("person", "org", "armed_group"):
            ev.append(Evidence(HOME, "actor", s, e))

    # Fast path: nothing in the text points abroad, so every name is the Libyan one.
    abroad = any(x.country != HOME for x in ev)
    if not abroad:
        out = []
        for eid, alts, _s, _e in hits:
            home = [a for a in alts if (table[a].country or HOME) == HOME]
            out.append(home[0] if home and table[eid].type == "place" else eid)
        return out, {}

    def sentence_of(pos: int) -> int:
        return bisect_right(sentence_starts, pos) - 1

    named = [x for x in ev if x.kind in ("name", "adj", "region")]
    named.sort(key=lambda x: x.start)
    named_starts = [x.start for x in named]
    text_count = Counter(x.country for x in ev if x.kind != "adj")
    by_sentence: dict[int, Counter[str]] = {}
    for x in ev:
        if x.kind != "adj":
            by_sentence.setdefault(sentence_of(x.start), Counter())[x.country] += 1

    out: list[str] = []
    made: dict[str, GazetteerEntry] = {}
    for eid, alts, s, e in hits:
        entry = table[eid]
        if entry.type != "place":
            out.append(eid)
            continue
        cands: dict[str, str] = {}
        for a in alts:
            cc = table[a].country or HOME
            if table[a].type == "place" and cc not in cands:
                cands[cc] = a
        attached = _attached(f.text, s, e, named, named_starts)
        if attached is not None:
            if attached in cands:
                out.append(cands[attached])
            else:
                syn = _synthetic(table[cands.get(HOME, eid)], attached)
                made[syn.id] = syn
                out.append(syn.id)
            continue
        if len(cands) == 1:
            out.append(next(iter(cands.values())))
            continue
        local = by_sentence.get(sentence_of(s), Counter())

        def score(
            cc: str, local: Counter[str] = local, cands: dict[str, str] = cands
        ) -> tuple[int, bool, int]:
            # a curated entry (no population given) outranks a GeoNames namesake
            pop = table[cands[cc]].population or 10**9
            return (3 * local[cc] + text_count[cc], cc == HOME, pop)

        out.append(cands[max(cands, key=score)])
    return out, made
