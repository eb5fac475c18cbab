"""Each fast path of the tagger equals the plain code it replaced, on arbitrary text.

The speed work rewrote several steps for speed with the promise of identical
results: folding by replacements instead of ``str.translate``, sentence ends
by a literal-led pattern, clitics stripped over a whole text, years found
digit-first, term lists matched through a trie, a text's words tokenised
once. Each is checked here against the plain version on generated strings
made of the characters that matter (Arabic letters and clitics, quotes,
end punctuation, all kinds of space), beyond the pinned outputs of
``test_enrich_golden.py``.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.enrich import events, normalise, timeline
from pipeline.textnorm import fold_arabic

ALPHABET = (
    "abc IXyz019245 .!?؟。\"'”’)]«»\n\t\r\u00a0\u2028\u3000\u2019\u2018\u201c\u201d\u2013"
    "وفبلكالجيشقنةىأإآیکـَُِّ"
)
TEXT = st.text(alphabet=ALPHABET, max_size=60)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_folding_equals_translate_and_fold_arabic(text: str) -> None:
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c.lower()[:1] or c for c in text)
    expected = low.translate(normalise._PUNCT)
    assert normalise._lower(text) == expected
    if normalise.has_arabic(expected):
        assert normalise._fold_arabic(expected) == fold_arabic(expected)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_sentence_ends_equal_the_plain_pattern(text: str) -> None:
    plain = [m.span() for m in events._SENT_END.finditer(text)]
    assert [m.span() for m in events._SENT_END_FAST.finditer(text)] == plain


_PLAIN_CLITICS = re.compile("^(?:[وف]?[بلك]?ال|[وف]?لل|[وف][بلك]?|[بلك])(?=..)")


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_tokens_equal_per_word_tokenising(text: str) -> None:
    tok = events.Tokens(text)
    spans = [m.span() for m in events._TOKEN.finditer(text)]
    assert tok.starts == [a for a, _ in spans]
    assert tok.ends == [b for _, b in spans]
    words = [text[a:b] for a, b in spans]
    bare = [_PLAIN_CLITICS.sub("", w) if "\u0600" <= w[0] <= "\u06ff" else w for w in words]
    assert tok.raw == " ".join(words)
    assert tok.bare == " ".join(bare)
    assert [tok.bare[o : o + len(w)] for o, w in zip(tok.bare_off, bare, strict=True)] == bare


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_years_and_background_marks_equal_the_plain_patterns(text: str) -> None:
    plain = [int(m.group()) for m in re.finditer(rf"\b{timeline._YEAR}\b", text)]
    assert timeline.latest_year(text) == (max(plain) if plain else None)
    marks = timeline.cheap_marks(text)
    for s in events.split_sentences(text):
        inside = any(s.start <= m < s.end for m in marks)
        assert inside == (timeline._CHEAP.search(text[s.start : s.end]) is not None)


WORDS = [
    "not",
    "no",
    "denied",
    "forces",
    "forces of",
    "of",
    "no forces",
    "mobilis*",
    "forces*",
    "نفى",
    "قوات",
    "لم",
    "حشد*",
]
SENTENCE = st.lists(
    st.sampled_from(["not", "no", "denied", "forces", "of", "mobilised", "نفى", "القوات", "قوات",
                     "لم", "حشدت", "والحشد", "x"]),
    max_size=14,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(SENTENCE, st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
def test_trie_matching_equals_the_flat_pattern(words: list[str], chosen: list[str]) -> None:
    terms = events.Terms(tuple(tuple(t.split()) for t in chosen))
    text = " ".join(words)
    tok = events.Tokens(text)
    w = tok.words(events.split_sentences(text)[0]) if text else None
    if w is None or not w.n:
        return
    assert terms.pattern is not None
    for lo in range(w.n):
        for hi in range(lo + 1, w.n + 1):
            plain: set[int] = set()
            for string, off in w.strings:
                end = off[hi] - 1 if hi < len(off) else len(string)
                for m in terms.pattern.finditer(string, off[lo], end):
                    plain.add(max(i for i, o in enumerate(off) if o <= m.start()))
            assert w.hits(terms, lo, hi) == plain
            assert w.find(terms, lo, hi) == (min(plain) if plain else -1)
            assert w.find(terms, lo, hi, last=True) == (max(plain) if plain else -1)
