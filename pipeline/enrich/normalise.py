"""Folding text for matching while keeping a way back to the original offsets.

Matching runs on a folded copy of the text (case folded, Arabic letter forms
and diacritics folded by :func:`pipeline.textnorm.fold_arabic`). Mentions must
point into the text *as written*, and folding deletes characters (diacritics,
tatweel), so the folded copy carries the positions of the deletions and maps
a folded index back with one bisect instead of a per-character table.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache

from pipeline.textnorm import fold_arabic, has_arabic

# Arabic clitics that may be glued in front of a word: conjunctions (wa, fa),
# prepositions (bi, li, ka) and the article (al); li + al contracts to "ll".
AR_CONJ = "وف"
AR_PREP = "بلك"
_AR_PREFIX = re.compile(f"^[{AR_CONJ}]?[{AR_PREP}]?$")
_AR_DEF_PREFIX = re.compile(f"^[{AR_CONJ}]?(?:[{AR_PREP}]?ال|لل)$")
_AR_VERB_PREFIX = re.compile(f"^[{AR_CONJ}]?(?:س?[يتنا]|ل[يتن])?$")


@cache
def _deleted_chars() -> str:
    """Characters fold_arabic removes, derived from it so both always agree."""
    chars = [chr(c) for c in range(0x0600, 0x0700)]
    return "".join(c for c in chars if fold_arabic("ب" + c) == "ب")


@cache
def _deleted_re() -> re.Pattern[str]:
    return re.compile("[" + re.escape(_deleted_chars()) + "]")


@dataclass(frozen=True, slots=True)
class Folded:
    """A folded copy of ``original``; ``to_original`` maps indexes back."""

    original: str
    text: str
    _shifts: tuple[int, ...] = ()

    def to_original(self, i: int) -> int:
        """Index in the original text of the folded character at ``i``."""
        if not self._shifts:
            return i
        return i + bisect_right(self._shifts, i)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of the folded [start, end)."""
        if end <= start:
            o = self.to_original(start)
            return o, o
        return self.to_original(start), self.to_original(end - 1) + 1


# Typographic quotes and dashes fold to ASCII one for one, so "Haftar’s" and
# "Haftar's" match alike and offsets do not move.
_PUNCT = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u00a0": " ",
    }
)


_PUNCT_PAIRS = tuple((chr(k), v) for k, v in _PUNCT.items())


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) != len(text):
        # A few characters lower to two (e.g. dotted capital I): keep one each.
        low = "".join(c.lower()[:1] or c for c in text)
    # The same as ``low.translate(_PUNCT)``: a few one-for-one replacements of
    # characters that are usually absent, each a C scan instead of a dict
    # lookup per character.
    for src, dst in _PUNCT_PAIRS:
        if src in low:
            low = low.replace(src, dst)
    return low


@cache
def _letter_pairs() -> tuple[tuple[str, str], ...]:
    """(variant, folded) letter pairs of fold_arabic, derived from it so both always agree."""
    pairs = []
    for code in range(0x0600, 0x0700):
        c = chr(code)
        out = fold_arabic("ب" + c)
        if out != "ب" + c and out != "ب":
            pairs.append((c, out[1:]))
    return tuple(pairs)


def _fold_arabic(low: str) -> str:
    """``fold_arabic`` by C-level scans: drop deleted characters, then replace letter variants.

    Why: ``str.translate`` with a dict looks each character up in Python,
    the largest single cost of folding a long Arabic article. The variants
    fold to letters that are not themselves variants, so replacing one pair
    after another equals the one-pass translation.
    """
    if _deleted_re().search(low) is not None:
        low = _deleted_re().sub("", low)
    for src, dst in _letter_pairs():
        if src in low:
            low = low.replace(src, dst)
    return low


def fold(text: str) -> Folded:
    """Case-fold and Arabic-fold ``text``, remembering where characters were dropped."""
    low = _lower(text)
    if not has_arabic(low):
        return Folded(text, low)
    positions = [m.start() for m in _deleted_re().finditer(low)]
    folded = _fold_arabic(low)
    # Folded position of each deleted character: its index minus the deletions before it.
    shifts = tuple(p - k for k, p in enumerate(positions))
    return Folded(text, folded, shifts)


def fold_key(text: str) -> str:
    """The folded form of a lexicon or gazetteer string (whitespace collapsed)."""
    return " ".join(fold(text).text.split())


def is_arabic_letter(c: str) -> bool:
    return "\u0621" <= c <= "\u064a" or "\u066e" <= c <= "\u06d3"


def word_start(text: str, i: int) -> int:
    """Start of the word that contains position ``i`` (or ``i`` at a boundary)."""
    while i > 0 and text[i - 1].isalnum():
        i -= 1
    return i


def arabic_prefix_ok(prefix: str, *, definite_stem: bool = False, verb: bool = False) -> bool:
    """Whether ``prefix`` is a run of clitics that may precede an Arabic word.

    ``definite_stem`` is for a name indexed without its article: the prefix must
    then supply it (al-, bi-al-, wa-li-l- ...). ``verb`` also allows the
    imperfect person prefixes and the future marker.
    """
    if definite_stem:
        return bool(_AR_DEF_PREFIX.match(prefix))
    if not prefix:
        return True
    if _AR_PREFIX.match(prefix) or _AR_DEF_PREFIX.match(prefix):
        return True
    return verb and bool(_AR_VERB_PREFIX.match(prefix))
