"""Snippets with ``<mark>`` from the text as written, the same on every backend.

Backends match on folded and stemmed tokens (``textnorm``), which are not
what an analyst wants to read: ``اعلنت غرفه`` instead of ``أعلنت غرفة``.
Here the original text is split with :func:`textnorm.token_spans`, which
keeps each token's character offsets, every token is compared with the
query's positive words in the form the query matched them (stem, exact
form or prefix, phrases in a row), and the best window of the original text
is returned with the matched words marked. One function for every backend,
so snippets agree by construction.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from pipeline.search import ast
from pipeline.textnorm import stem, token_spans

SNIPPET_TOKENS = 30
MAX_SNIPPET_SOURCE = 20_000  # characters of the text searched for the best window


@dataclass(slots=True)
class Matcher:
    """The query's positive words, grouped by how they are compared."""

    exact: set[str] = field(default_factory=set)
    stems: set[str] = field(default_factory=set)
    prefixes: tuple[str, ...] = ()
    exact_phrases: list[tuple[str, ...]] = field(default_factory=list)
    stem_phrases: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.exact or self.stems or self.prefixes or self.exact_phrases or self.stem_phrases
        )


def matcher(nodes: list[ast.Term | ast.Phrase], fld: str = "text") -> Matcher:
    """What to mark in field ``fld`` for these positive nodes."""
    m = Matcher()
    prefixes: list[str] = []
    for n in nodes:
        if fld not in n.fields:
            continue
        if isinstance(n, ast.Term):
            if n.prefix:
                prefixes.append(n.value)
            elif n.exact:
                m.exact.add(n.value)
            else:
                m.stems.add(n.value)
        elif n.slop:  # proximity: mark each word where it occurs
            m.stems.update(n.words)
        elif n.exact:
            m.exact_phrases.append(n.words)
        else:
            m.stem_phrases.append(n.words)
    m.prefixes = tuple(prefixes)
    return m


def _marks(spans: list[tuple[int, int, str]], m: Matcher) -> list[bool]:
    marked = [False] * len(spans)
    need_stems = bool(m.stems or m.stem_phrases)
    stems = [stem(t) for _, _, t in spans] if need_stems else []
    for i, (_, _, tok) in enumerate(spans):
        if (
            tok in m.exact
            or (need_stems and stems[i] in m.stems)
            or (m.prefixes and tok.startswith(m.prefixes))
        ):
            marked[i] = True
    for phrases, forms in ((m.exact_phrases, [t for _, _, t in spans]), (m.stem_phrases, stems)):
        for words in phrases:
            k = len(words)
            first = words[0]
            for i in range(len(forms) - k + 1):
                if forms[i] == first and tuple(forms[i : i + k]) == words:
                    for j in range(i, i + k):
                        marked[j] = True
    return marked


def _render(text: str, spans: list[tuple[int, int, str]], marked: list[bool], lo: int, hi: int):
    """Original text of tokens lo..hi-1 with marked tokens wrapped, HTML-escaped."""
    esc = html.escape
    out: list[str] = []
    pos = spans[lo][0]
    for i in range(lo, hi):
        if not marked[i]:
            continue
        a, b, _ = spans[i]
        if a < pos:  # several tokens from one written span: mark it once
            continue
        out.append(esc(text[pos:a], quote=True))
        out.append(f"<mark>{esc(text[a:b], quote=True)}</mark>")
        pos = b
    end = max(spans[hi - 1][1], pos)
    out.append(esc(text[pos:end], quote=True))
    body = "".join(out)
    if lo > 0:
        body = "… " + body
    if hi < len(spans):
        body += " …"
    return body


def make_snippet(text: str, m: Matcher, size: int = SNIPPET_TOKENS) -> str | None:
    """The best ``size``-token window of ``text`` with matches marked; None if no match."""
    if m.empty or not text:
        return None
    src = text[:MAX_SNIPPET_SOURCE]
    spans = token_spans(src)
    if not spans:
        return None
    marked = _marks(spans, m)
    if not any(marked):
        return None
    best, best_n, n = 0, -1, 0
    # sliding window count of marked tokens; the earliest window with the most wins
    for i in range(len(spans)):
        n += marked[i]
        if i >= size:
            n -= marked[i - size]
        if n > best_n:
            best_n, best = n, max(i - size + 1, 0)
    first = next(i for i in range(best, len(spans)) if marked[i])
    lo = max(min(best, first - 3), 0)
    hi = min(lo + size, len(spans))
    if hi - lo < size:
        lo = max(hi - size, 0)
    return _render(src, spans, marked, lo, hi)


def lead_snippet(text: str, words: int = SNIPPET_TOKENS) -> str:
    """The start of the text, escaped: the snippet when no query word is in the text."""
    parts = text.split()
    out = " ".join(parts[:words])
    return html.escape(out + (" …" if len(parts) > words else ""), quote=True)


def snippet_for(text: str, nodes: list[ast.Term | ast.Phrase]) -> str:
    """What every backend shows under a hit: marked best window, else the lead."""
    return make_snippet(text, matcher(nodes)) or lead_snippet(text)
