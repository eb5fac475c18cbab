"""Article -> SearchDoc: the one place that decides what a backend indexes.

Both backends index the same SearchDoc, so a field is filled here once and
never derived differently per backend.

Entity fields by entity type:

- ``persons``: type ``person``;
- ``orgs``: type ``org``;
- ``actors``: the ones who act with force or on the ground — types
  ``armed_group``, ``foreign_actor`` and ``person`` (``actor:haftar`` should
  find the commander as well as his brigades);
- ``places``: type ``place``; ``geo`` holds the (lat, lon) of each place
  that has coordinates;
- ``entities``: every entity id, whatever its type.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.models import Article
from pipeline.search.base import SearchDoc
from pipeline.textnorm import normalise_for_search, stem_all, tokens

ACTOR_TYPES = ("armed_group", "foreign_actor", "person")

# ast keyword field -> index field holding keyword_value() forms (every backend)
KEYWORD_INDEX_FIELDS = {
    "source": "source_key",
    "lang": "lang",
    "event": "events",
    "entity": "entities",
    "person": "persons",
    "org": "orgs",
    "actor": "actors",
    "place": "places",
    "story": "story_key",
}

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(value: datetime | None) -> int | None:
    """Datetime -> integer microseconds since the epoch (naive = UTC), exact."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + timedelta(microseconds=value)


def _unique(values: list[str]) -> list[str]:
    """Order-preserving de-duplication (entity order follows the article)."""
    return list(dict.fromkeys(v for v in values if v))


def doc_from_article(article: Article, ingested_at: datetime) -> SearchDoc:
    """Build the search document of one article; pure, no I/O."""
    ents = article.entities
    places = [e for e in ents if e.type == "place"]
    return SearchDoc(
        id=article.id,
        title=article.title,
        text=article.text,
        title_norm=normalise_for_search(article.title),
        text_norm=normalise_for_search(article.text),
        url=article.url,
        source=article.source,
        lang=article.lang,
        published=article.published,
        ingested_at=ingested_at,
        story_id=article.story_id or article.id,
        summary=article.summary,
        events=sorted({e.type for e in article.events if e.reported}),  # not recalled ones
        entities=_unique([e.id for e in ents]),
        persons=_unique([e.id for e in ents if e.type == "person"]),
        orgs=_unique([e.id for e in ents if e.type == "org"]),
        actors=_unique([e.id for e in ents if e.type in ACTOR_TYPES]),
        places=_unique([e.id for e in places]),
        entity_records=[e.record() for e in ents],
        geo=[(e.lat, e.lon) for e in places if e.lat is not None and e.lon is not None],
    )


def token_fields(doc: SearchDoc) -> dict[str, str]:
    """The four token streams every backend indexes, space-joined, from one tokenizer.

    ``*_tok`` holds the exact forms (quoted phrases, wildcards), ``*_stem`` the
    light stems (bare words, proximity), position for position, so a phrase
    or proximity query means the same on both.
    """
    out: dict[str, str] = {}
    for name, text in (("title", doc.title), ("text", doc.text)):
        toks = tokens(text)
        out[f"{name}_tok"] = " ".join(toks)
        out[f"{name}_stem"] = " ".join(stem_all(toks))
    return out
