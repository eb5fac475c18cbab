"""A deterministic generated corpus of SearchDocs for backend tests and benchmarks.

Built to exercise what the query language can ask: English and Arabic words
(with diacritics and letter variants the normaliser folds), Latin accents,
hyphenated names, numbers, keyword fields with several values, shared
stories (syndicated copies), undated articles, and dates spread over years.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from pipeline.search.base import SearchDoc
from pipeline.textnorm import normalise_for_search


def _words(text: str) -> tuple[str, ...]:
    """A readable word list kept as one string."""
    return tuple(text.split())


EN_WORDS = _words(
    "forces mobilisation mobilised mobilising troops convoy brigade militia clashes "
    "ceasefire talks dialogue protest oil port blockade field airstrike drone shelling "
    "council government parliament election minister commander army coast guard "
    "migrants boat rescue water power cuts fuel prices bank dinar budget court "
    "kidnapped released detained prison checkpoint road airport flights resumed "
    "café naïve résumé Misrātah al-Wasat 5+5 2020 2021 covid vaccine hospital"
)
AR_WORDS = _words(
    "تحشيدات قوات حفتر سرت الجفرة الجُفرة طرابلس بنغازي مصراتة اشتباكات هدنة "
    "وقف إطلاق النار حكومة الوحدة الوطنية النفط ميناء حقل الشرارة مظاهرات احتجاج "
    "المجلس الرئاسي البرلمان انتخابات غارة جوية قصف مدفعي"
)
SOURCES = ("Libya Monitor", "Coastline Wire", "Al-Waha News", "Tripoli Dispatch", "Sahel Desk")
EVENTS = (
    "mobilisation",
    "armed_clash",
    "airstrike",
    "shelling",
    "ceasefire_agreement",
    "protest",
    "oil_blockade",
    "arrest_detention",
    "foreign_forces",
)
PLACES = {
    "sirte": (31.2, 16.59),
    "tripoli": (32.89, 13.19),
    "benghazi": (32.12, 20.07),
    "misrata": (32.38, 15.09),
    "al_jufra": (29.1, 15.9),
    "ras_lanuf": (30.5, 18.56),
    "sharara": (26.58, 12.22),
}
PERSONS = ("khalifa_haftar", "abdul_hamid_dbeibah", "aguila_saleh", "fayez_al_sarraj")
ORGS = ("noc", "unsmil", "presidential_council", "house_of_representatives")
ARMED = ("lna", "tariq_bin_ziyad_brigade", "wagner_group", "radaa")


def generate_docs(n: int, seed: int = 7, start: int = 0) -> Iterator[SearchDoc]:
    """``n`` documents with ids ``gen-<i>``; the same arguments give the same documents."""
    rng = random.Random(seed)
    base = datetime(2019, 1, 1, tzinfo=UTC)
    ingested = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(start, start + n):
        arabic = rng.random() < 0.25
        vocab = AR_WORDS if arabic else EN_WORDS
        title = " ".join(rng.choice(vocab) for _ in range(rng.randint(3, 8)))
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(20, 120)))
        if rng.random() < 0.3:
            text += ". " + " ".join(rng.choice(EN_WORDS if arabic else AR_WORDS) for _ in range(5))
        places = rng.sample(sorted(PLACES), rng.randint(0, 2))
        persons = rng.sample(PERSONS, rng.randint(0, 1))
        orgs = rng.sample(ORGS, rng.randint(0, 1))
        armed = rng.sample(ARMED, rng.randint(0, 1))
        events = sorted(rng.sample(EVENTS, rng.randint(0, 2)))
        published = (
            None if rng.random() < 0.05 else base + timedelta(minutes=rng.randint(0, 5 * 525_600))
        )
        story = f"story-{i // 3}" if rng.random() < 0.3 else f"gen-{i}"
        entity_records = (
            [{"id": p, "name": p.replace("_", " ").title(), "type": "place"} for p in places]
            + [{"id": p, "name": p, "type": "person"} for p in persons]
            + [{"id": o, "name": o, "type": "org"} for o in orgs]
            + [{"id": a, "name": a, "type": "armed_group"} for a in armed]
        )
        yield SearchDoc(
            id=f"gen-{i}",
            title=title,
            text=text,
            title_norm=normalise_for_search(title),
            text_norm=normalise_for_search(text),
            url=f"https://example.org/{i}",
            source=rng.choice(SOURCES),
            lang="ar" if arabic else "en",
            published=published,
            ingested_at=ingested + timedelta(seconds=i),
            story_id=story,
            summary=text[:120],
            events=events,
            entities=[*places, *persons, *orgs, *armed],
            persons=list(persons),
            orgs=list(orgs),
            actors=[*armed, *persons],
            places=list(places),
            entity_records=entity_records,
            geo=[PLACES[p] for p in places],
        )
