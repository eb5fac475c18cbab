"""Alert messages: the highlighted snippet, then plain text and HTML. Pure functions.

The snippet is found here rather than asked of the search backend, so both
backends give the same message for the same article: the article text is
split into tokens the way the index splits it (``search.query.tokens``) and
the rule's positive words and phrases are matched on the folded tokens, with
their character spans kept for highlighting. Untrusted text (titles, article
text, source names, URLs) is escaped before it goes into HTML; only the
``<mark>`` tags around matches are ours.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from pipeline.search.query import tokens
from pipeline.textnorm import stem

SNIPPET_CHARS = 320
PLACE_TYPES = ("place",)


@dataclass(slots=True)
class MessageItem:
    """One alert as a message shows it."""

    title: str
    url: str
    source: str
    published: datetime | None
    snippet: str
    highlights: list[list[int]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    more_reports: int = 0
    delivery_id: str = ""
    story_id: str = ""
    article_id: str = ""
    lang: str | None = None
    kind: str = "match"


@dataclass(slots=True)
class Message:
    title: str
    text: str
    html: str
    delivery_ids: list[str]
    items: list[MessageItem]


# ---------------------------------------------------------------- snippet
_TOKEN = re.compile(r"[^\W_]+(?:[\u0300-\u036f\u064b-\u065f\u0670\u06d6-\u06ed]+[^\W_]*)*")


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    return "".join(tokens(word))


def token_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, folded token) for each token of ``text``, folded as the index folds them.

    Letters and digits make tokens; combining marks (Arabic short vowels,
    accents) stay inside a token, as in the FTS5 tokenizer. Folding is cached
    per distinct word: news text repeats its words a lot.
    """
    for m in _TOKEN.finditer(text):
        folded = _fold(m.group())
        if folded:
            yield m.start(), m.end(), folded


def _term_matches(term: str, token: str) -> bool:
    if term.endswith("*"):
        return token.startswith(term[:-1])
    return token == term or stem(token) == term  # bare query words come as stems


def find_matches(
    text: str, terms: Sequence[str], until: int | None = None
) -> list[tuple[int, int]]:
    """Character spans of ``text`` where a term (``word``, ``pre*``, ``a phrase``) matches.

    With ``until``, scanning stops ``until`` characters after the first match
    (all a snippet window needs).
    """
    split = [t.split() for t in terms if t.split()]
    if not split:
        return []
    longest = max(len(w) for w in split)
    window: list[tuple[int, int, str]] = []
    found: list[tuple[int, int]] = []
    stop: int | None = None
    for span in token_spans(text):
        if stop is not None and span[0] > stop:
            break
        window.append(span)
        if len(window) > longest:
            window.pop(0)
        for words in split:
            n = len(words)
            if n > len(window):
                continue
            tail = window[-n:]
            if all(_term_matches(words[k], tail[k][2]) for k in range(n)):
                found.append((tail[0][0], tail[-1][1]))
                if stop is None and until is not None:
                    stop = tail[0][0] + until
    return sorted(set(found))


def highlight(
    text: str, terms: Sequence[str], width: int = SNIPPET_CHARS
) -> tuple[str, list[list[int]]]:
    """A window of ``text`` around the first match, and the match spans inside it."""
    text = " ".join(text.split())
    matches = find_matches(text, terms, until=width)
    if not matches:
        cut = text[:width]
        return (cut + ("…" if len(text) > width else ""), [])
    first = matches[0][0]
    start = max(0, first - width // 4)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > matches[0][1] else end
    spans = [[a - start, b - start] for a, b in matches if a >= start and b <= end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    off = len(prefix)
    return (prefix + text[start:end] + suffix, [[a + off, b + off] for a, b in spans])


def marked(snippet: str, spans: Sequence[Sequence[int]], open_: str, close: str, esc: Any) -> str:
    """The snippet with each span wrapped; every other piece passed through ``esc``."""
    out: list[str] = []
    pos = 0
    for a, b in sorted((int(s[0]), int(s[1])) for s in spans):
        if a < pos or b > len(snippet):
            continue
        out.append(esc(snippet[pos:a]))
        out.append(open_ + esc(snippet[a:b]) + close)
        pos = b
    out.append(esc(snippet[pos:]))
    return "".join(out)


# ---------------------------------------------------------------- rendering
def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "date unknown"


def _names(item: MessageItem, places: bool) -> list[str]:
    return [
        str(e.get("name") or e.get("id"))
        for e in item.entities
        if (e.get("type") in PLACE_TYPES) == places
    ]


def message_title(rule: str, items: Sequence[MessageItem], digest: bool) -> str:
    if len(items) == 1 and not digest:
        prefix = "[newswatch health]" if items[0].kind == "health" else f"[newswatch: {rule}]"
        return f"{prefix} {items[0].title}"
    return f"[newswatch: {rule}] {len(items)} new report{'s' if len(items) != 1 else ''}"


def render_text(rule: str, items: Sequence[MessageItem]) -> str:
    """The plain-text body: one block per story."""
    blocks: list[str] = []
    for item in items:
        if item.kind == "health":
            blocks.append(f"{item.title}\n{item.snippet}")
            continue
        lines = [
            item.title or "(no title)",
            f"{item.source} · {_when(item.published)}",
            "",
            marked(item.snippet, item.highlights, "[", "]", lambda s: s),
            "",
        ]
        if item.events:
            lines.append("Events: " + ", ".join(item.events))
        people = _names(item, places=False)
        places = _names(item, places=True)
        if people:
            lines.append("Entities: " + ", ".join(people))
        if places:
            lines.append("Places: " + ", ".join(places))
        if item.more_reports:
            lines.append(f"{item.more_reports} more report{'s' if item.more_reports != 1 else ''}")
        lines.append(item.url)
        blocks.append("\n".join(lines))
    footer = f"\n\n-- \nnewswatch alert rule: {rule}"
    if items and items[0].delivery_id:
        footer += "\ndelivery: " + ", ".join(i.delivery_id for i in items)
    return "\n\n---\n\n".join(blocks) + footer


def _h(value: str) -> str:
    return html.escape(value, quote=True)


def _safe_url(url: str) -> str:
    return url if url.lower().startswith(("http://", "https://")) else ""


def render_html(rule: str, items: Sequence[MessageItem]) -> str:
    """The HTML body; every piece of article text is escaped."""
    parts = ['<div style="font-family:sans-serif;max-width:680px">']
    for item in items:
        if item.kind == "health":
            lines = "<br>".join(_h(line) for line in item.snippet.splitlines())
            parts.append(f"<h3>{_h(item.title)}</h3><p>{lines}</p>")
            continue
        url = _safe_url(item.url)
        title = _h(item.title or "(no title)")
        head = f'<a href="{_h(url)}">{title}</a>' if url else title
        direction = ' dir="rtl"' if item.lang == "ar" else ""
        parts.append(f"<h3{direction}>{head}</h3>")
        parts.append(f"<p><small>{_h(item.source)} · {_h(_when(item.published))}</small></p>")
        snippet = marked(item.snippet, item.highlights, "<mark>", "</mark>", _h)
        parts.append(f"<blockquote{direction}>{snippet}</blockquote>")
        facts = []
        if item.events:
            facts.append(f"<li>Events: {_h(', '.join(item.events))}</li>")
        people = _names(item, places=False)
        places = _names(item, places=True)
        if people:
            facts.append(f"<li>Entities: {_h(', '.join(people))}</li>")
        if places:
            facts.append(f"<li>Places: {_h(', '.join(places))}</li>")
        if item.more_reports:
            n = item.more_reports
            facts.append(f"<li>{n} more report{'s' if n != 1 else ''}</li>")
        if facts:
            parts.append("<ul>" + "".join(facts) + "</ul>")
        if url:
            parts.append(f'<p><a href="{_h(url)}">{_h(url)}</a></p>')
        parts.append("<hr>")
    parts.append(f"<p><small>newswatch alert rule: {_h(rule)}</small></p></div>")
    return "".join(parts)


def build_message(rule: str, items: Sequence[MessageItem], digest: bool = False) -> Message:
    return Message(
        title=message_title(rule, items, digest),
        text=render_text(rule, items),
        html=render_html(rule, items),
        delivery_ids=[i.delivery_id for i in items],
        items=list(items),
    )
