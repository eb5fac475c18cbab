"""Enrichment: language, gazetteer entities with offsets, and event types.

``enrich_text`` is a pure function of its input: it finds gazetteer names
(places with coordinates, people, organisations, armed groups, foreign
actors) and sentence-level events in English and Arabic. Other languages get
a language code and nothing else: untagged is better than wrongly tagged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pipeline.enrich.events import Found, find_events
from pipeline.enrich.gazetteer import entries, get_entity, resolve
from pipeline.enrich.language import detect_language
from pipeline.enrich.matcher import find
from pipeline.enrich.normalise import Folded, fold
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


def _analyse(text: str, is_title: bool = False) -> _Part:
    f = fold(text)
    table = entries()
    hits = [(h.id, table[h.id].type, h.start, h.end) for h in find(f)]
    found, _sentences = find_events(f, hits, is_title=is_title)
    events = []
    for ev in found:
        in_sentence = [h for h in hits if ev.start <= h[2] < ev.end]
        actors = list(dict.fromkeys(h[0] for h in in_sentence if h[1] in ACTOR_TYPES))
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
    return _Part(f, hits, events)


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
                g = get_entity(eid)
                assert g is not None
                entities[eid] = Entity(id=eid, name=g.name, type=g.type, lat=g.lat, lon=g.lon)
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
