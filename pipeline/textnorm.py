"""Text normalisation shared by enrichment and search: folding, tokens, light stemming.

Arabic is written with optional diacritics, several alef forms, taa marbuta
or haa, yaa or alef maqsura, and tatweel stretching. Folding these makes
"الجُفرة" and "الجفره" the same word for the gazetteer and for search.

Search goes one step further, in one place so that every backend agrees:
:func:`token_spans` splits text into tokens (with their character offsets in
the text as written, so snippets can mark the original words),
:func:`fold_token` gives the exact indexed form of a written word, and
:func:`stem` its light stem. Each backend indexes both forms (exact and
stemmed) of the same token stream; none of them runs its own analyzer.

Stemming is deliberately light (recall for an analyst, not linguistics):

- Arabic: the conjunction ``و`` (when three letters or more remain), the
  article ``ال`` alone or after the clitics ``و ف ب ك ل`` (``وال فال بال كال لل``),
  then one pass of the common suffixes (duals and plurals ``ان ات ون ين``,
  ``يه`` (= ية folded), the pronoun ``ها``, feminine ``ه`` (= ة folded),
  ``ي``), each removed only when two letters or more remain: ``المرتزقة``,
  ``ومرتزقة`` and ``مرتزقة`` all become ``مرتزق``;
- English (and any Latin-script word): the Snowball English stemmer, then
  British and American spellings are brought together (``-ize``/``-ise``,
  ``-yze``/``-yse``, ``-our``/``-or``, ``-ence``/``-ense``), so
  ``mobilisation``, ``mobilised`` and ``mobilized`` meet;
- digits and other scripts are left as they are.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_ARABIC_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
_FOLD = str.maketrans(
    {
        "\u0622": "\u0627",  # alef madda -> alef
        "\u0623": "\u0627",  # alef hamza above -> alef
        "\u0625": "\u0627",  # alef hamza below -> alef
        "\u0671": "\u0627",  # alef wasla -> alef
        "\u0629": "\u0647",  # taa marbuta -> haa
        "\u0649": "\u064a",  # alef maqsura -> yaa
        "\u06cc": "\u064a",  # farsi yeh -> yaa
        "\u0643": "\u0643",
        "\u06a9": "\u0643",  # keheh -> kaf
    }
)
_FOLD_PAIRS = tuple((chr(k), v) for k, v in _FOLD.items() if chr(k) != v)
_ARABIC_CHARS = re.compile("[\u0600-\u06ff]")


def has_arabic(text: str) -> bool:
    return bool(_ARABIC_CHARS.search(text))


def fold_arabic(text: str) -> str:
    """Fold Arabic letter variants and drop diacritics/tatweel; other scripts untouched."""
    if not has_arabic(text):
        return text
    text = _ARABIC_DIACRITICS.sub("", text).replace(_TATWEEL, "")
    for src, dst in _FOLD_PAIRS:  # str.replace runs in C; translate() with a dict does not
        if src in text:
            text = text.replace(src, dst)
    return text


def normalise_for_search(text: str) -> str:
    """What both search backends index and what queries are matched against."""
    return fold_arabic(unicodedata.normalize("NFKC", text))


def normalise_whitespace(text: str) -> str:
    return re.sub(r"[ \t\u00a0]+", " ", re.sub(r"\n\s*\n+", "\n\n", text)).strip()


# --------------------------------------------------------------------------- tokens

# A token is a run of letters and digits (``str.isalnum``: every L* and N*
# category), the FTS5 ``unicode61`` rule. Marks are dropped before splitting
# (after NFD), so a word written with diacritics stays one token. The whole
# text goes through C-level string operations, not a Python loop per token:
# this runs for every document indexed.
_TOKEN_RE = re.compile(r"[^\W_]+")
# Spans in the text as written also take the marks (and tatweel) inside a word.
# Combining marks dropped from every token (Arabic ones go in fold_arabic).
_MARK_CHARS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
    "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
)
_MARKS = re.compile(f"[{_MARK_CHARS}]")
_SPAN_RE = re.compile(f"(?:[^\\W_]|[{_MARK_CHARS}\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed])+")


def _strip_marks(text: str) -> str:
    """Drop combining marks (Latin accents and the like) after NFD, then recompose."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    if not _MARKS.search(decomposed):
        return text
    return unicodedata.normalize("NFC", _MARKS.sub("", decomposed))


def _nfkc(text: str) -> str:
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def fold_text(text: str) -> str:
    """The exact indexed form of a whole text: NFKC, Arabic folding, lower case, no marks."""
    if text.isascii():
        return text.lower()
    return _strip_marks(fold_arabic(_nfkc(text)).lower())


def tokens(text: str) -> list[str]:
    """The exact indexed forms of ``text``'s tokens, in order."""
    return _TOKEN_RE.findall(fold_text(text))


@lru_cache(maxsize=200_000)
def fold_token(raw: str) -> tuple[str, ...]:
    """One word as written -> its exact indexed token(s) (rarely several: NFKC expansions)."""
    return tuple(_TOKEN_RE.findall(fold_text(raw)))


def token_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, exact form) of every token, offsets into ``text`` as written.

    The same tokens as :func:`tokens`, for snippets: a written span whose
    folded form splits into several tokens (a compatibility character that
    NFKC expands, say) yields each part with the span of the whole.
    """
    out: list[tuple[int, int, str]] = []
    append = out.append
    for m in _SPAN_RE.finditer(text):
        parts = fold_token(m.group())
        if len(parts) == 1:
            append((m.start(), m.end(), parts[0]))
        else:
            for part in parts:
                append((m.start(), m.end(), part))
    return out


# --------------------------------------------------------------------------- stemming

_EN = snowballstemmer.stemmer("english")
_AR_ARTICLES = ("وال", "فال", "بال", "كال", "لل", "ال")
_AR_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")
_LATIN = re.compile(r"^[a-z\u00c0-\u024f]+$")
# American -ize/-yze forms written the British way before stemming (Snowball
# stems "mobilized" to "mobil" but "mobilised" to "mobilis").
_US_SPELLING = re.compile(r"^(\w{3,}?)([iy])z(e|ed|es|ing|ation|ations|er|ers)$")


def stem_arabic(token: str) -> str:
    """Light stemming of one folded Arabic token (see the module docstring)."""
    word = token
    if word.startswith("و") and len(word) >= 4:
        word = word[1:]
    for art in _AR_ARTICLES:
        if word.startswith(art) and len(word) - len(art) >= 2:
            word = word[len(art) :]
            break
    for suf in _AR_SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 2:
            word = word[: -len(suf)]
    return word


def stem_english(token: str) -> str:
    """Snowball English, then one spelling for British and American forms."""
    word = _EN.stemWord(_US_SPELLING.sub(r"\1\2s\3", token))
    if len(word) >= 5 and word.endswith("our"):
        word = word[:-3] + "or"
    elif len(word) >= 6 and word.endswith("enc"):
        word = word[:-3] + "ens"
    return word


_STEMS: dict[str, str] = {}
_MAX_STEMS = 1_000_000


def _stem(token: str) -> str:
    if has_arabic(token):
        out = stem_arabic(token) or token
    elif _LATIN.match(token):
        out = stem_english(token) or token
    else:
        out = token
    if len(_STEMS) < _MAX_STEMS:
        _STEMS[token] = out
    return out


def stem(token: str) -> str:
    """The stem of one exact token (from :func:`tokens`); never empty. Memoised."""
    return _STEMS.get(token) or _stem(token)


def stem_all(toks: list[str]) -> list[str]:
    """Stems of many tokens (the indexing hot path: one dict look-up each)."""
    get = _STEMS.get
    return [get(t) or _stem(t) for t in toks]


def stems(text: str) -> list[str]:
    return stem_all(tokens(text))
