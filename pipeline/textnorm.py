"""Text normalisation shared by enrichment and search: folding, tokens, light stemming.

Arabic is written with optional diacritics, several alef forms, taa marbuta
or haa, yaa or alef maqsura, and tatweel stretching. Folding these makes
"الجُفرة" and "الجفره" the same word for the gazetteer and for search.

Search goes one step further, in one place so that every backend agrees:
:func:`token_spans` splits text into tokens (with their character offsets in
the text as written, so snippets can mark the original words),
:func:`fold_token` gives the exact indexed form of a token, and
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

import regex
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
_ARABIC_CHARS = re.compile("[\u0600-\u06ff]")


def has_arabic(text: str) -> bool:
    return bool(_ARABIC_CHARS.search(text))


def fold_arabic(text: str) -> str:
    """Fold Arabic letter variants and drop diacritics/tatweel; other scripts untouched."""
    if not has_arabic(text):
        return text
    text = _ARABIC_DIACRITICS.sub("", text).replace(_TATWEEL, "")
    return text.translate(_FOLD)


def normalise_for_search(text: str) -> str:
    """What both search backends index and what queries are matched against."""
    return fold_arabic(unicodedata.normalize("NFKC", text))


def normalise_whitespace(text: str) -> str:
    return re.sub(r"[ \t\u00a0]+", " ", re.sub(r"\n\s*\n+", "\n\n", text)).strip()


# --------------------------------------------------------------------------- tokens

# The SQLite FTS5 ``unicode61`` rule: letters, digits, private use and marks are
# token characters, everything else separates tokens. Tatweel (a letter
# modifier, Lm) is a token character too and is dropped by the folding.
_TOKEN_RE = regex.compile(r"[\p{L}\p{N}\p{Mn}\p{Co}]+")


@lru_cache(maxsize=200_000)
def fold_token(raw: str) -> str:
    """One token as written -> its exact indexed form (folded, lower-case, no marks)."""
    text = fold_arabic(unicodedata.normalize("NFKC", raw))
    decomposed = unicodedata.normalize("NFD", text.lower())
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", stripped)


def token_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, exact form) of every token, offsets into ``text`` as written.

    A raw span whose folded form splits into several tokens (a compatibility
    character that NFKC expands, say) yields each part with the span of the whole.
    """
    out: list[tuple[int, int, str]] = []
    for m in _TOKEN_RE.finditer(text):
        folded = fold_token(m.group())
        if not folded:
            continue
        if _TOKEN_RE.fullmatch(folded):
            out.append((m.start(), m.end(), folded))
        else:
            out.extend((m.start(), m.end(), part) for part in _TOKEN_RE.findall(folded))
    return out


def tokens(text: str) -> list[str]:
    """The exact indexed forms of ``text``'s tokens, in order."""
    return [t for _, _, t in token_spans(text)]


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


@lru_cache(maxsize=500_000)
def stem(token: str) -> str:
    """The stem of one exact token (from :func:`tokens`); never empty."""
    if has_arabic(token):
        return stem_arabic(token) or token
    if _LATIN.match(token):
        return stem_english(token) or token
    return token


def stems(text: str) -> list[str]:
    return [stem(t) for t in tokens(text)]
