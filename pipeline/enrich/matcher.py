"""Finding gazetteer names in text with one Aho-Corasick pass.

The automaton holds every folded name (English and Arabic). A raw hit is
kept only at word boundaries; in Arabic the word may start with clitics
(و ف ب ل ك and the article), and a name listed with its article is also
indexed without it so that "للجفرة" (li + al-Jufra) is found. Overlapping
hits are resolved longest-first, so "Saddam Haftar" is not also "Haftar".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import ahocorasick

from pipeline.enrich.gazetteer import entries
from pipeline.enrich.normalise import (
    Folded,
    arabic_prefix_ok,
    fold_key,
    is_arabic_letter,
    word_start,
)
from pipeline.textnorm import has_arabic

# A definite noun right before an ambiguous name makes the name its adjective:
# "الدول الخمس" is "the five states", not "the states of Al Khums".
_DEFINITE_WORD = re.compile("^(?:[وف]?[بلك]?ال|[وف]?لل)..")
_DEMONSTRATIVES = frozenset({"هذه", "هذا", "تلك", "ذلك", "هاته"})


@dataclass(frozen=True, slots=True)
class Alias:
    id: str
    length: int  # folded key length
    arabic: bool
    cased: str | None  # exact spelling required in the original text
    definite_stem: bool  # Arabic name indexed without its article
    ambiguous: bool  # Arabic name that is also a common word


class Hit(NamedTuple):
    # a NamedTuple: built many times per article, and a frozen dataclass's
    # __init__ costs several times a tuple's
    id: str
    start: int  # folded offsets
    end: int
    alts: tuple[str, ...] = ()  # every entry that carries this name (``id`` first)


def _aliases() -> dict[str, list[Alias]]:
    table: dict[str, list[Alias]] = {}

    def add(key: str, alias: Alias) -> None:
        bucket = table.setdefault(key, [])
        if all(a.id != alias.id or a.definite_stem != alias.definite_stem for a in bucket):
            bucket.append(alias)

    for e in entries().values():
        for name in e.all_names:
            key = fold_key(name)
            if not key:
                continue
            arabic = has_arabic(key)
            cased = name if name in e.cased else None
            amb = name in e.ar_ambiguous
            add(key, Alias(e.id, len(key), arabic, cased, False, amb))
            if arabic and key.startswith("ال") and len(key) > 4:
                stem = key[2:]
                add(stem, Alias(e.id, len(stem), True, None, True, amb))
    return table


@cache
def automaton() -> ahocorasick.Automaton:
    """Built once per process: folded name -> candidate aliases."""
    auto = ahocorasick.Automaton()
    for key, aliases in _aliases().items():
        auto.add_word(key, (key, tuple(aliases)))
    auto.make_automaton()
    return auto


def _prev_word(text: str, start: int) -> str:
    i = start
    while i > 0 and not text[i - 1].isalnum():
        i -= 1
    j = word_start(text, i)
    return text[j:i]


def _accept(alias: Alias, f: Folded, start: int, end: int) -> bool:
    text = f.text
    if end < len(text) and text[end].isalnum():
        return False
    if alias.cased is not None:
        o_start, o_end = f.span(start, end)
        if f.original[o_start:o_end] != alias.cased:
            return False
    clean_start = start == 0 or not text[start - 1].isalnum()
    if not alias.arabic:
        return clean_start
    ws = start if clean_start else word_start(text, start)
    prefix = text[ws:start]
    if not all(is_arabic_letter(c) for c in prefix):
        return False
    if not arabic_prefix_ok(prefix, definite_stem=alias.definite_stem):
        # li + al + a word that starts with lam is written with two lams only
        # ("للواء" = li + al-liwa'), so one lam in front is the whole prefix.
        lam_merge = alias.definite_stem and text[start] == "ل" and prefix in ("ل", "ول", "فل")
        if not lam_merge:
            return False
    if alias.ambiguous:
        prev = _prev_word(text, ws)
        if prev in _DEMONSTRATIVES or _DEFINITE_WORD.match(prev):
            return False
    return True


def find(f: Folded) -> list[Hit]:
    """Longest non-overlapping gazetteer hits in ``f`` (folded offsets), in text order."""
    raw: list[Hit] = []
    text = f.text
    n = len(text)
    for last, (_key, aliases) in automaton().iter(text):
        if last + 1 < n and text[last + 1].isalnum():
            continue  # inside a longer word: no alias accepts it (see _accept)
        ok = [
            a.id for a in aliases if _accept(a, f, last - a.length + 1, last + 1)
        ]  # fmt: skip
        if ok:
            start = last - aliases[0].length + 1
            alts = (ok[0],) if len(ok) == 1 else tuple(dict.fromkeys(ok))
            raw.append(Hit(ok[0], start, last + 1, alts))
    if not raw:
        return []
    raw.sort(key=lambda h: (h.start, -(h.end - h.start)))
    chosen: list[Hit] = []
    taken_until = -1
    for h in raw:
        if h.start >= taken_until:
            chosen.append(h)
            taken_until = h.end
    # Names inside a longer name still count when the entry says so
    # ("Sirte-Jufra Operations Room" is also a mention of Sirte and Jufra).
    table = entries()
    extra = [
        inner
        for outer in chosen
        if table[outer.id].contains
        for inner in raw
        if inner.id in table[outer.id].contains
        and outer.start <= inner.start
        and inner.end <= outer.end
    ]
    if extra:
        chosen = sorted(chosen + extra, key=lambda h: (h.start, h.end))
    return chosen
