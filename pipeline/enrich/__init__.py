"""Enrichment: language, gazetteer entities with offsets, and event types.

``enrich_text`` is a pure function of its input: it finds gazetteer names
(places with coordinates, people, organisations, armed groups, foreign
actors) and sentence-level events in English and Arabic. Other languages get
a language code and nothing else: untagged is better than wrongly tagged.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pipeline.enrich.events import Found, find_events, split_sentences
from pipeline.enrich.gazetteer import GazetteerEntry, entries, get_entity, resolve
from pipeline.enrich.language import detect_language
from pipeline.enrich.matcher import find
from pipeline.enrich.normalise import Folded, fold, fold_key, word_start
from pipeline.enrich.toponyms import country_evidence, resolve_places
from pipeline.models import Entity, Event, Mention

TAGGED_LANGUAGES = frozenset({"en", "ar"})
ACTOR_TYPES = frozenset({"person", "org", "armed_group", "foreign_actor"})

__all__ = [
    "Enrichment",
    "detect_language",
    "enrich_jsonl",
    "enrich_text",
    "get_entity",
    "resolve",
]


@dataclass
class Enrichment:
    """What one article yields.

    ``events``: the event types the article reports (one per type), which
    feed tags, ``event:`` search and alerts. ``background``: the types it only
    recalls (one per type, ``reported`` False), kept as context.
    ``mentions``: every event mention, with its position.
    """

    lang: str | None
    events: list[Event] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    background: list[Event] = field(default_factory=list)
    mentions: list[Event] = field(default_factory=list)

    @property
    def all_events(self) -> list[Event]:
        """Reported events, then recalled ones (as stored with the article)."""
        return [*self.events, *self.background]

    def record(self) -> dict[str, Any]:
        """The ``newswatch enrich --jsonl`` shape (entities with their mentions)."""
        ents = []
        for e in self.entities:
            out = e.record()
            out["mentions"] = [{"text": m.text, "start": m.start, "end": m.end} for m in e.mentions]
            ents.append(out)

        def short(ev: Event) -> dict[str, Any]:
            return {
                "type": ev.type,
                "confidence": round(ev.confidence, 3),
                "evidence": ev.evidence,
                "position": ev.position,
                "reported": ev.reported,
            }

        return {
            "lang": self.lang,
            "events": [short(ev) for ev in self.events],
            "entities": ents,
            "background_events": [short(ev) for ev in self.background],
            "event_mentions": [short(ev) for ev in self.mentions],
        }


@dataclass
class _Part:
    """What one text (the body or the title) yielded."""

    folded: Folded
    hits: list[tuple[str, str, int, int]]
    events: list[Event]


def _position(f: Folded, ev: Found, is_title: bool) -> str:
    if is_title:
        return "headline"
    if ev.background:
        return "background"
    newline = f.text.find("\n")
    return "lead" if newline < 0 or ev.start < newline else "body"


def _split(words: str) -> list[str]:
    return words.split()


_LOCATIVE = frozenset(
    fold_key(w)
    for w in _split(
        """in into to from inside across near of at via northern southern eastern western
        central north south east west border borders في الى إلى من داخل عبر شمال جنوب شرق غرب
        وسط شمالي جنوبي شرقي غربي حدود اراضي نحو"""
    )
)
_STATE_ROLES = frozenset(
    _split(
        """government army military forces troops defence defense foreign ministry president
        navy air intelligence parliament envoy embassy officials authorities"""
    )
)


def _acts(f: Folded, start: int, end: int) -> bool:
    """Whether a state is named as an actor ("Turkey sent troops"), not as a location.

    Why: states are actors only when they act; "in northern Lebanon" or
    "Lebanon's Bekaa" name a location, which toponym resolution uses instead.
    """
    text = f.text
    before = re.findall(r"\w+", text[max(0, start - 25) : start])[-2:]
    if any(w in _LOCATIVE for w in before):
        return False
    prefix = text[word_start(text, start) : start]
    if prefix and prefix[-1] in "بل":  # بليبيا, لتركيا: in/to a country
        return False
    after = text[end : end + 30]
    if after.startswith("'s"):
        nxt = re.findall(r"\w+", after[2:])[:1]
        return bool(nxt) and nxt[0] in _STATE_ROLES
    return True


def _libya_anchor(f: Folded, hits: list[tuple[str, str, int, int]]) -> bool:
    table = _table_get
    for eid, etype, _s, _e in hits:
        if etype in ("person", "org", "armed_group"):
            return True
        if etype == "place" and (table(eid).country or "LY") == "LY":
            return True
    return any(ev.country == "LY" for ev in country_evidence(f))


def _table_get(eid: str) -> GazetteerEntry:
    return _SYNTHETIC.get(eid) or entries()[eid]


_SYNTHETIC: dict[str, GazetteerEntry] = {}


def _analyse(text: str, is_title: bool = False) -> _Part:
    f = fold(text)
    table = entries()
    sentences = split_sentences(f.text)
    raw = find(f)
    resolved, made = resolve_places(
        f, [(h.id, h.alts or (h.id,), h.start, h.end) for h in raw], [s.start for s in sentences]
    )
    _SYNTHETIC.update(made)
    hits: list[tuple[str, str, int, int]] = []
    for h, eid in zip(raw, resolved, strict=True):
        entry = made.get(eid) or table[eid]
        if entry.kind == "state":
            if not _acts(f, h.start, h.end):
                continue
            hits.append((eid, "state", h.start, h.end))
        else:
            hits.append((eid, entry.type, h.start, h.end))
    found, _sentences = find_events(f, hits, is_title=is_title, sentences=sentences)
    if any(ev.type == "foreign_forces" for ev in found):
        found = _foreign_forces_in_libya(f, found, hits)
    events = []
    hit_starts = [h[2] for h in hits]
    for ev in found:
        lo, hi = bisect_left(hit_starts, ev.start), bisect_left(hit_starts, ev.end)
        in_sentence = hits[lo:hi]
        actors = list(
            dict.fromkeys(h[0] for h in in_sentence if h[1] in ACTOR_TYPES or h[1] == "state")
        )
        places = list(dict.fromkeys(h[0] for h in in_sentence if h[1] == "place"))
        conf = ev.confidence + 0.05 * bool(actors) + 0.05 * bool(places)
        o_start, o_end = f.span(ev.start, ev.end)
        events.append(
            Event(
                type=ev.type,
                confidence=min(conf, 0.99),
                evidence=text[o_start:o_end].strip(),
                actors=actors,
                places=places,
                position=_position(f, ev, is_title),
                reported=not ev.background,
            )
        )
    hits = [(eid, "foreign_actor" if t == "state" else t, s, e) for eid, t, s, e in hits]
    return _Part(f, hits, events)


def _foreign_forces_in_libya(
    f: Folded, found: list[Found], hits: list[tuple[str, str, int, int]]
) -> list[Found]:
    """Foreign forces count in Libya only: not Turkish troops in Istanbul.

    A mention goes when its sentence places it in another country (a foreign
    place and no Libyan one), or when nothing in the text points to Libya.
    """
    anchored = _libya_anchor(f, hits)
    out = []
    for ev in found:
        if ev.type == "foreign_forces":
            if not anchored:
                continue
            countries_here = {
                _table_get(eid).country or "LY"
                for eid, etype, s, _e in hits
                if etype == "place" and ev.start <= s < ev.end
            }
            if countries_here and "LY" not in countries_here:
                continue
        out.append(ev)
    return out


def _merge_events(events: list[Event]) -> list[Event]:
    """One event per type: the most confident sentence, a little surer when repeated."""
    best: dict[str, Event] = {}
    counts: dict[str, int] = {}
    for ev in events:
        counts[ev.type] = counts.get(ev.type, 0) + 1
        if ev.type not in best or ev.confidence > best[ev.type].confidence:
            best[ev.type] = ev
    out = []
    for etype, ev in best.items():
        bonus = min(0.05, 0.02 * (counts[etype] - 1))
        conf = min(ev.confidence + bonus, 0.99)
        out.append(Event(etype, conf, ev.evidence, ev.actors, ev.places, ev.position, ev.reported))
    out.sort(key=lambda e: -e.confidence)
    return out


def enrich_text(text: str, lang: str | None = None, title: str = "") -> Enrichment:
    """Entities (with offsets into ``text``) and events of one article.

    ``lang`` None means detect it. Only English and Arabic are tagged. The
    title is analysed too: its names and events count, but mention offsets
    are always offsets into ``text``.
    """
    if lang is None:
        lang = detect_language(f"{title}\n{text}" if title else text)
    if lang not in TAGGED_LANGUAGES:
        return Enrichment(lang=lang)
    body = _analyse(text)
    parts = [body]
    if title.strip():
        parts.append(_analyse(title, is_title=True))
    entities: dict[str, Entity] = {}
    for part in parts:
        for eid, _etype, s, e in part.hits:
            if eid not in entities:
                g = _table_get(eid)
                entities[eid] = Entity(
                    id=eid,
                    name=g.name,
                    type=g.type,
                    lat=g.lat,
                    lon=g.lon,
                    country=g.country if g.type == "place" else None,
                )
            if part is body:
                o_start, o_end = body.folded.span(s, e)
                entities[eid].mentions.append(Mention(text[o_start:o_end], o_start, o_end))
    mentions = [ev for part in parts for ev in part.events]
    events = _merge_events([ev for ev in mentions if ev.reported])
    reported = {ev.type for ev in events}
    background = _merge_events([ev for ev in mentions if not ev.reported])
    return Enrichment(
        lang=lang,
        events=events,
        entities=list(entities.values()),
        background=[ev for ev in background if ev.type not in reported],
        mentions=mentions,
    )


def _enrich_line(line: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"id": None, "error": f"invalid JSON: {exc.msg}"}
    if not isinstance(item, dict):
        return {"id": None, "error": "each line must be a JSON object"}
    item_id = item.get("id")
    text = item.get("text")
    if not isinstance(text, str):
        return {"id": item_id, "error": "missing or non-string 'text'"}
    lang = item.get("lang")
    if lang is not None and not isinstance(lang, str):
        return {"id": item_id, "error": "'lang' must be a string or null"}
    title = item.get("title") if isinstance(item.get("title"), str) else ""
    result = enrich_text(text, lang=lang or None, title=title)
    return {"id": item_id, **result.record()}


def enrich_jsonl(lines: Iterable[str]) -> Iterator[str]:
    """``newswatch enrich --jsonl``: one JSON line out per non-blank line in.

    A bad line yields ``{"id": ..., "error": ...}`` and the stream goes on.
    """
    for line in lines:
        if not line.strip():
            continue
        yield json.dumps(_enrich_line(line), ensure_ascii=False)
