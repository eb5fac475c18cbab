"""Generated Libya-news-like articles and pages for benchmarks (never for tests of quality).

Deterministic for a seed, so two runs measure the same work.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from html import escape

PLACES = ["Sirte", "Tripoli", "Benghazi", "Misrata", "Jufra", "Sabha", "Tobruk", "Zawiya",
          "Ras Lanuf", "Brega", "Gharyan", "Derna", "Ajdabiya", "Kufra", "Ghat"]  # fmt: skip
ACTORS = ["the Libyan National Army", "GNA forces", "the Presidential Council",
          "the House of Representatives", "the National Oil Corporation", "UNSMIL",
          "Wagner Group mercenaries", "the 5+5 Joint Military Commission",
          "Khalifa Haftar", "the Government of National Unity"]  # fmt: skip
VERBS = ["mobilised troops near", "announced talks in", "reported clashes outside",
         "sent reinforcements to", "condemned shelling of", "closed the oil terminal at",
         "arrested activists in", "held a protest in", "signed a ceasefire in",
         "carried out an airstrike on"]  # fmt: skip
_FILLER_TEXT = (
    "officials said the situation remained tense while residents waited for news "
    "about the security of the coastal road and the supply of fuel and electricity "
    "to the districts most affected by the recent fighting and displacement"
)
FILLER = _FILLER_TEXT.split()


def sentence(rng: random.Random) -> str:
    words = rng.sample(FILLER, k=rng.randint(8, 16))
    return (
        f"{rng.choice(ACTORS).capitalize()} {rng.choice(VERBS)} {rng.choice(PLACES)}, "
        f"{' '.join(words)}."
    )


def article_text(rng: random.Random, words: int = 800) -> str:
    paras, count = [], 0
    while count < words:
        para = " ".join(sentence(rng) for _ in range(rng.randint(3, 6)))
        paras.append(para)
        count += len(para.split())
    return "\n\n".join(paras)


def published(rng: random.Random) -> datetime:
    return datetime(2019, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 6 * 365 * 1440))


def _links(rng: random.Random, n: int, prefix: str) -> str:
    return "".join(
        f'<li class="item"><div class="teaser"><a href="/{prefix}/{rng.randint(0, 10**6)}.html">'
        f"{escape(sentence(rng)[:60])}</a></div></li>"
        for _ in range(n)
    )


def page_html(i: int, rng: random.Random) -> tuple[str, str]:
    """-> (title, html) of a news page about the size and shape of a real one.

    Real news pages weigh 60-150 KB: menus, related and most-read lists,
    comments, scripts, styles and a long footer around an 800-word body.
    Extraction cost depends on that weight, so the benchmark carries it too.
    """
    title = f"{rng.choice(ACTORS).capitalize()} {rng.choice(VERBS)} {rng.choice(PLACES)} ({i})"
    body = "".join(f"<p>{escape(p)}</p>\n" for p in article_text(rng).split("\n\n"))
    date = published(rng).isoformat()
    nav = "".join(f'<li><a href="/section/{s}">{s}</a><ul>{_links(rng, 10, s)}</ul></li>'
                  for s in PLACES)  # fmt: skip
    comments = "".join(
        f'<div class="comment"><div class="meta"><b>reader{rng.randint(1, 999)}</b></div>'
        f"<p>{escape(sentence(rng))}</p></div>"
        for _ in range(40)
    )
    style = "".join(f".c{k}{{margin:{k}px;padding:{k % 7}px;color:#{k:06x}}}" for k in range(150))
    script = "var cfg = " + str([{"k": k, "v": sentence(rng)[:40]} for k in range(40)]) + ";"
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | Bench News</title>
<meta property="article:published_time" content="{date}">
<meta name="author" content="Staff reporter"><style>{style}</style>
<script>{escape(script)}</script></head>
<body><header><div class="cookie">Cookies help us deliver our news.</div>
<nav><ul class="menu">{nav}</ul></nav></header>
<main><article><h1>{escape(title)}</h1><p class="byline">By Staff reporter</p>
{body}</article>
<aside><h2>Related</h2><ul>{_links(rng, 20, "news")}</ul>
<h2>Most read</h2><ol>{_links(rng, 15, "news")}</ol></aside>
<section class="comments"><h2>Comments</h2>{comments}</section></main>
<footer><ul>{_links(rng, 120, "about")}</ul><p>© Bench News. All rights reserved.</p></footer>
</body></html>"""
    return title, html


def rss(base: str, items: list[tuple[str, str]]) -> str:
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{base}{p}</link><guid>{base}{p}</guid></item>"
        for t, p in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Bench</title><link>{base}/</link><description>bench</description>"
        f"{entries}</channel></rss>"
    )
