"""Writes the labelled incident set: reports of one real-world event in English
and Arabic, worded differently, plus same-type distractors nearby in place or time.

Why generated: the set needs dozens of incidents with known membership; a seeded
generator over hand-written sentence frames (several per type and language, each
written differently) gives that reproducibly. The test split uses other seeds,
other places and frames held out of the dev split, and was written (and frozen)
before the linker existed; it is read only for the final figures.

    python -m benchmarks.incident_set            # rewrites tests/data/incidents/*.jsonl
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "incidents"

# Places: (id, English, Arabic). Distractor places are picked >= 80 km away.
PLACES = {
    "sirte": ("Sirte", "سرت", 31.209, 16.589),
    "misrata": ("Misrata", "مصراتة", 32.375, 15.093),
    "tripoli": ("Tripoli", "طرابلس", 32.887, 13.187),
    "benghazi": ("Benghazi", "بنغازي", 32.117, 20.067),
    "gharyan": ("Gharyan", "غريان", 32.172, 13.020),
    "tarhuna": ("Tarhuna", "ترهونة", 32.435, 13.633),
    "bani_walid": ("Bani Walid", "بني وليد", 31.746, 13.984),
    "zawiya": ("Zawiya", "مدينة الزاوية", 32.757, 12.728),
    "sabratha": ("Sabratha", "صبراتة", 32.793, 12.488),
    "zintan": ("Zintan", "الزنتان", 31.932, 12.253),
    "derna": ("Derna", "درنة", 32.767, 22.639),
    "tobruk": ("Tobruk", "طبرق", 32.083, 23.976),
    "ajdabiya": ("Ajdabiya", "أجدابيا", 30.755, 20.226),
    "sabha": ("Sabha", "سبها", 27.038, 14.426),
    "ubari": ("Ubari", "أوباري", 26.590, 12.776),
    "murzuq": ("Murzuq", "مرزق", 25.917, 13.917),
    "zuwara": ("Zuwara", "زوارة", 32.931, 12.082),
    "nalut": ("Nalut", "نالوت", 31.868, 10.981),
    "ghadames": ("Ghadames", "غدامس", 30.133, 9.500),
    "brega": ("Brega", "البريقة", 30.406, 19.575),
    "ras_lanuf": ("Ras Lanuf", "راس لانوف", 30.500, 18.567),
    "jufra": ("Jufra", "الجفرة", 29.114, 15.944),
    "kufra": ("Kufra", "الكفرة", 24.178, 23.314),
    "al_bayda": ("Al Bayda", "البيضاء", 32.763, 21.755),
    "zliten": ("Zliten", "زليتن", 32.467, 14.569),
}
DEV_PLACES = [
    "sirte",
    "misrata",
    "tripoli",
    "benghazi",
    "gharyan",
    "tarhuna",
    "sabha",
    "derna",
    "ajdabiya",
    "zuwara",
    "brega",
    "jufra",
    "ubari",
    "zliten",
]
TEST_PLACES = [
    "bani_walid",
    "zawiya",
    "zintan",
    "tobruk",
    "murzuq",
    "nalut",
    "ghadames",
    "ras_lanuf",
    "kufra",
    "al_bayda",
    "sabratha",
    "sirte",
    "tripoli",
    "misrata",
]

ACTORS = {
    "lna": ("the Libyan National Army", "الجيش الوطني الليبي"),
    "rada": ("the Rada Special Deterrence Force", "قوة الردع الخاصة"),
    "brigade_444": ("the 444th Brigade", "اللواء 444"),
    "tariq_bin_ziyad_brigade": ("the Tariq Bin Ziyad Brigade", "لواء طارق بن زياد"),
    "ssa": ("the Stability Support Apparatus", "جهاز دعم الاستقرار"),
    "saiqa": ("Saiqa Special Forces", "قوات الصاعقة"),
}

# Frames per type and language: {a} actor, {p} place, {d} day word.
FRAMES: dict[str, dict[str, list[str]]] = {
    "mobilisation": {
        "en": [
            "{A} mobilised troops and armoured vehicles towards {p} {d}, witnesses said.",
            "Military reinforcements of {a} arrived in {p} {d}, "
            "with a long convoy of armed vehicles.",
            "A large column of {a} fighters was seen moving on {p} {d}, local sources reported.",
            "{A} deployed hundreds of fighters and heavy weapons around {p} {d}.",
        ],
        "ar": [
            "حشد {a} قوات وآليات عسكرية باتجاه {p} {d}، وفق شهود عيان.",
            "وصلت تعزيزات عسكرية تابعة إلى {a} إلى {p} {d} في رتل طويل من الآليات المسلحة.",
            "شوهد رتل عسكري كبير يتبع {a} يتحرك نحو {p} {d}، بحسب مصادر محلية.",
            "دفع {a} بمئات المقاتلين والأسلحة الثقيلة إلى محيط {p} {d}.",
        ],
    },
    "armed_clash": {
        "en": [
            "Heavy clashes erupted between {a} and a rival armed group in {p} {d}.",
            "Fighting broke out in {p} {d} as {a} exchanged fire with gunmen.",
            "{A} fought armed men in the streets of {p} {d}, residents said.",
            "Gunfire and clashes involving {a} shook {p} {d}.",
        ],
        "ar": [
            "اندلعت اشتباكات عنيفة بين {a} ومجموعة مسلحة منافسة في {p} {d}.",
            "اشتباكات مسلحة في {p} {d} بين {a} ومسلحين.",
            "دارت مواجهات مسلحة بين {a} ومسلحين في شوارع {p} {d}، بحسب السكان.",
            "هزت اشتباكات شارك فيها {a} مدينة {p} {d}.",
        ],
    },
    "airstrike": {
        "en": [
            "An airstrike by {a} hit a site near {p} {d}.",
            "Warplanes of {a} carried out air strikes on positions outside {p} {d}.",
            "A drone strike attributed to {a} targeted a farm near {p} {d}.",
            "{A} said its aircraft bombed targets on the edge of {p} {d}.",
        ],
        "ar": [
            "شن طيران {a} غارة جوية على موقع قرب {p} {d}.",
            "نفذت طائرات تابعة إلى {a} ضربات جوية على مواقع خارج {p} {d}.",
            "استهدفت غارة بطائرة مسيرة نسبت إلى {a} مزرعة قرب {p} {d}.",
            "قال {a} إن طائراته قصفت أهدافا على أطراف {p} {d}.",
        ],
    },
    "protest": {
        "en": [
            "Hundreds of residents protested in {p} {d} against power cuts.",
            "Demonstrators took to the streets of {p} {d} demanding fuel and salaries.",
            "Protesters gathered in the main square of {p} {d} to denounce corruption.",
            "Angry residents staged a protest in {p} {d} over water shortages.",
        ],
        "ar": [
            "تظاهر مئات من السكان في {p} {d} احتجاجا على انقطاع الكهرباء.",
            "خرج متظاهرون إلى شوارع {p} {d} مطالبين بالوقود والرواتب.",
            "تجمع محتجون في الساحة الرئيسية في {p} {d} للتنديد بالفساد.",
            "نظم سكان غاضبون وقفة احتجاجية في {p} {d} بسبب نقص المياه.",
        ],
    },
}
HELD_OUT_FRAME = 3  # the fourth frame of each type/language appears only in the test split

DAY_WORDS = {
    "en": {0: "on Monday", 1: "yesterday"},
    "ar": {0: "يوم الاثنين", 1: "أمس"},
}
SOURCES = {
    "en": ["Libya Monitor", "Coastline Wire", "Desert Dispatch", "Maghreb Daily"],
    "ar": ["الوسط", "ليبيا الأحرار", "بوابة الجنوب", "المرصد"],
}
TITLES = {
    "en": {
        "mobilisation": "Forces mobilise near {p}",
        "armed_clash": "Clashes reported in {p}",
        "airstrike": "Air strike near {p}",
        "protest": "Protest in {p}",
    },
    "ar": {
        "mobilisation": "تحشيدات عسكرية قرب {p}",
        "armed_clash": "اشتباكات في {p}",
        "airstrike": "غارة جوية قرب {p}",
        "protest": "احتجاجات في {p}",
    },
}
FILLER = {
    "en": "The situation remained tense and officials gave no further details.",
    "ar": "ولا يزال الوضع متوترا ولم يقدم المسؤولون مزيدا من التفاصيل.",
}


def _km(a: str, b: str) -> float:
    from math import asin, cos, radians, sin, sqrt

    la1, lo1, la2, lo2 = (radians(v) for v in (*PLACES[a][2:], *PLACES[b][2:]))
    h = sin((la2 - la1) / 2) ** 2 + cos(la1) * cos(la2) * sin((lo2 - lo1) / 2) ** 2
    return 6371 * 2 * asin(sqrt(h))


def _report(
    rng: random.Random,
    inc: str,
    etype: str,
    place: str,
    actor: str | None,
    day: datetime,
    lang: str,
    frames: list[int],
    n: int,
) -> dict[str, object]:
    lag = rng.choice([0, 0, 1])  # a report the day after says "yesterday"
    published = day + timedelta(days=lag, hours=rng.randint(7, 20), minutes=rng.randint(0, 59))
    frame = FRAMES[etype][lang][rng.choice(frames)]
    a_en, a_ar = ACTORS[actor] if actor else ("residents", "السكان")
    a = a_en if lang == "en" else a_ar
    p = PLACES[place][0] if lang == "en" else PLACES[place][1]
    sent = frame.format(a=a, A=a[:1].upper() + a[1:], p=p, d=DAY_WORDS[lang][lag])
    title = TITLES[lang][etype].format(p=p)
    return {
        "id": f"{inc}-{lang}-{n}",
        "incident": inc,
        "lang": lang,
        "source": rng.choice(SOURCES[lang]),
        "published": published.isoformat(),
        "title": title,
        "text": f"{sent} {FILLER[lang]}",
        "type": etype,
        "place": place,
        "actor": actor,
    }


def build(seed: int, count: int, places: list[str], frames: list[int], prefix: str) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []
    base = datetime(2026, 10, 1, tzinfo=UTC)
    types = list(FRAMES)
    for i in range(count):
        etype = types[i % len(types)]
        place = rng.choice(places)
        actor = None if etype == "protest" else rng.choice(sorted(ACTORS))
        # 40 incidents share two weeks, so distractors fall close in time too.
        day = base + timedelta(days=rng.randint(0, 14))
        inc = f"{prefix}{i:03d}"
        n = rng.randint(2, 8)
        langs = ["en", "ar"] + [rng.choice(["en", "ar"]) for _ in range(n - 2)]
        for k, lang in enumerate(langs):
            rows.append(_report(rng, inc, etype, place, actor, day, lang, frames, k))
        if i % 2 == 0:  # a distractor: same type, nearby place same day, or same place days later
            if rng.random() < 0.5:
                near = sorted(
                    (p for p in PLACES if p != place and 80 <= _km(p, place) <= 300),
                    key=lambda p: _km(p, place),
                )
                d_place, d_day = (near[0] if near else place), day
                if not near:
                    d_day = day + timedelta(days=5)
            else:
                d_place, d_day = place, day + timedelta(days=rng.choice([4, 5, -4]))
            dinc = f"{inc}d"
            for k in range(rng.randint(1, 3)):
                rows.append(
                    _report(
                        rng, dinc, etype, d_place, actor, d_day, rng.choice(["en", "ar"]), frames, k
                    )
                )
    rows.sort(key=lambda r: (r["published"], r["id"]))
    return rows


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    dev_frames = [f for f in range(4) if f != HELD_OUT_FRAME]
    splits = {
        "dev": build(19, 48, DEV_PLACES, dev_frames, "D"),
        "test": build(1919, 44, TEST_PLACES, list(range(4)), "T"),
    }
    for name, rows in splits.items():
        with (OUT / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        incs = {r["incident"] for r in rows}
        print(f"{name}: {len(rows)} reports, {len(incs)} incidents (incl. distractors)")


if __name__ == "__main__":
    main()
