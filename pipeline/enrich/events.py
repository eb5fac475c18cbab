"""Event types from sentence-level rules, in English and Arabic.

A trigger (``data/events.yaml``) fires in a sentence; it counts as an event
only if the sentence also holds what the rule needs (a military word for
"deployed", an oil word for "blockade"), nothing right after it turns it into
something else ("mobilisation of funds"), and no negation, denial or
hypothetical cue governs it ("denied any mobilisation", "threatened to
mobilise", "نفى ... تحشيد"). Cues look back within the same clause (a "but"
ends their reach) and a little ahead ("reports ... were false").
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import accumulate
from typing import Any, NamedTuple

import ahocorasick

from pipeline.enrich.gazetteer import load_yaml_text
from pipeline.enrich.normalise import Folded, arabic_prefix_ok, fold_key, word_start
from pipeline.enrich.timeline import BackgroundFlags
from pipeline.models import EVENT_TYPES

STRONG_WINDOW = 10
NEAR_WINDOW = 3
POST_WINDOW = 8
BLOCK_WINDOW = 4

_TOKEN = re.compile(r"\w+")
_AR_CLITICS = re.compile("^(?:[وف]?[بلك]?ال|[وف]?لل|[وف][بلك]?|[بلك])(?=..)")
_SENT_END = re.compile(r"(?<=[.!?؟。])[\"'”’)\]]*\s+|\s*\n+\s*")


def _sent_end_fast() -> re.Pattern[str]:
    """``_SENT_END`` with the same matches, each branch led by one literal character.

    Why: a pattern that starts with a lookbehind is tried at every character;
    led by literals, the regex engine skips from one quote or space to the
    next. Every match of ``_SENT_END`` starts with a closing quote or bracket
    (after end punctuation) or a space; the branches for a closing mark or a
    space after end punctuation come before the newline ones, as in the
    original.
    """
    quotes = "\"'”’)]"
    spaces = [c for c in map(chr, range(0x3001)) if re.match(r"\s", c)]  # all of them
    end, q = "[.!?؟。]", "[" + re.escape(quotes) + "]"
    after_end = [f"{re.escape(c)}(?<={end}.){q}*\\s+" for c in quotes]
    after_end += [f"{re.escape(c)}(?<={end}.)\\s*" for c in spaces]
    newline = ["\n\\s*" if c == "\n" else f"{re.escape(c)}(?=\\s*\n)\\s*" for c in spaces]
    return re.compile("|".join(after_end + newline))


_SENT_END_FAST = _sent_end_fast()

Term = tuple[str, ...]  # a word sequence; a word ending in * is a stem


class Terms:
    """A list of word sequences compiled to one regex over a sentence's word string.

    Why a regex: checking a few hundred cue and context terms word by word in
    Python dominated the run time; one compiled alternation per list scans a
    window of words in C.
    """

    __slots__ = ("_fast", "_loose", "alts", "pattern", "terms")

    def __init__(self, terms: tuple[Term, ...]) -> None:
        self.terms = terms
        alts = sorted({" ".join(_word_re(w) for w in t) for t in terms}, key=lambda a: (-len(a), a))
        self.alts = bool(alts)
        self.pattern = re.compile("(?:(?<= )|^)(?:" + "|".join(alts) + ")(?= |$)") if alts else None
        self._fast: re.Pattern[str] | None = None
        self._loose: re.Pattern[str] | None = None

    @property
    def fast(self) -> re.Pattern[str] | None:
        """The same terms as a trie (one branch per first letter, and so on).

        It matches where ``pattern`` matches, so it answers "any term in
        these words?" exactly, and most such questions are answered "no" by
        it alone, several times faster than the flat alternation. The first
        letter leads each branch so that the regex engine skips to the
        positions that start with one. Compiled on first use.
        """
        if self._fast is None and self.alts:
            self._fast = re.compile(_trie_regex(self.terms, " ", "[^ ]*", "(?= |$)", lead=True))
        return self._fast

    @property
    def loose(self) -> re.Pattern[str] | None:
        """A superset test on the folded sentence itself (clitics allowed in front,
        any non-word between words): when it fails, no rule needing these terms
        can fire, and the sentence's words need not be built at all.
        """
        if self._loose is None and self.alts:
            self._loose = re.compile(
                r"(?<!\w)(?:[وفبلك]{0,2}(?:ال)?|لل)?"
                + _trie_regex(self.terms, r"\W+", r"\w*", "", lead=False)
                + r"(?!\w)"
            )
        return self._loose

    def __bool__(self) -> bool:
        return self.pattern is not None


_SEP, _STEM, _END = object(), object(), object()


def _trie_regex(terms: tuple[Term, ...], sep: str, stem: str, end: str, *, lead: bool) -> str:
    """One regex for a list of word sequences, shaped as a character trie.

    ``sep`` goes between words, ``stem`` stands for the rest of a word after
    a stem (``mobilis*``) and ``end`` closes a term. With ``lead`` the
    word-start condition is checked after each branch's first letter.
    """
    trie: dict[Any, Any] = {}
    for t in terms:
        node = trie
        for n, word in enumerate(t):
            if n:
                node = node.setdefault(_SEP, {})
            for ch in word[:-1] if word.endswith("*") else word:
                node = node.setdefault(ch, {})
            if word.endswith("*"):
                node = node.setdefault(_STEM, {})
        node[_END] = {}

    def emit(node: dict[Any, Any]) -> str:
        alts = []
        for key, child in node.items():
            if key is _END:
                alts.append(end)
            elif key is _STEM:
                alts.append(stem + emit(child))
            elif key is _SEP:
                alts.append(sep + emit(child))
            else:
                alts.append(re.escape(key) + emit(child))
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    if lead and all(isinstance(k, str) for k in trie):
        # "c(?<![^ ].)": c at a word start, the same as "(?:(?<= )|^)c"
        return (
            "(?:" + "|".join(re.escape(k) + "(?<![^ ].)" + emit(c) for k, c in trie.items()) + ")"
        )
    start = "(?:(?<= )|^)" if lead else ""
    return start + emit(trie)


def _word_re(word: str) -> str:
    return re.escape(word[:-1]) + "[^ ]*" if word.endswith("*") else re.escape(word)


@dataclass(frozen=True, slots=True)
class Rule:
    type: str
    lang: str
    key: str
    stem: bool
    w: float
    need: Terms
    need_also: Terms
    need_place: bool
    block_after: Terms
    block_before: Terms
    suppressed_by: tuple[str, ...] = ()
    avoid: Terms | None = None  # the sentence must hold none of these (purpose, object class)
    proper: bool = False  # the trigger may not sit inside a capitalised or quoted name


@dataclass(frozen=True, slots=True)
class CueSet:
    strong_pre: Terms
    near_pre: Terms
    post: Terms
    exceptions: Terms
    breakers: Terms
    any_cue: Terms | None = None  # every governing cue (pre or post), to ask "any at all?"


@dataclass(frozen=True, slots=True)
class Lexicon:
    rules: dict[str, tuple[Rule, ...]]  # folded key -> rules
    cues: dict[str, CueSet]  # lang -> shared cues
    type_cues: dict[tuple[str, str], CueSet]  # (type, lang) -> extra cues
    entity_triggers: dict[str, tuple[str, float]]  # entity type -> (event type, w)
    labels: dict[str, str]  # folded label -> event type
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class Sentence:
    start: int
    end: int
    tokens: Words | None = None


class Found(NamedTuple):
    # a NamedTuple: built many times per article, and a frozen dataclass's
    # __init__ costs several times a tuple's
    """One event type found in one sentence (folded offsets).

    ``background``: the sentence recalls an earlier event ("in 2019", "last
    year", "had been shut many times") rather than reporting a current one.
    """

    type: str
    confidence: float
    start: int
    end: int
    background: bool = False


def _term_list(items: list[str] | None, sets: dict[str, list[str]]) -> tuple[Term, ...]:
    out: list[Term] = []
    for item in map(str, items or ()):
        names = sets[item[1:]] if item.startswith("@") else [item]
        for name in names:
            words = tuple(fold_key(str(name)).split())
            if words:
                out.append(words)
    return tuple(out)


def _terms(items: list[str] | None, sets: dict[str, list[str]]) -> Terms:
    return Terms(_term_list(items, sets))


_CUE_KINDS = ("strong_pre", "near_pre", "post", "exceptions", "clause_breakers")


def _cueset(
    shared: dict[str, Any],
    sets: dict[str, list[str]],
    extra: dict[str, Any] | None = None,
    prefix: str = "",
) -> CueSet:
    """The shared cues of a language, plus a type's own when it has some."""
    lists = {k: list(shared.get(k) or ()) for k in _CUE_KINDS}
    for k in _CUE_KINDS:
        lists[k] += list((extra or {}).get(prefix + k) or ())
    governing = [*lists["strong_pre"], *lists["near_pre"], *lists["post"]]
    return CueSet(
        strong_pre=_terms(lists["strong_pre"], sets),
        near_pre=_terms(lists["near_pre"], sets),
        post=_terms(lists["post"], sets),
        exceptions=_terms(lists["exceptions"], sets),
        breakers=_terms(lists["clause_breakers"], sets),
        any_cue=_terms(governing, sets),
    )


@cache
def lexicon() -> Lexicon:
    """The event lexicon, read once per process."""
    text = resources.files("pipeline.enrich").joinpath("data").joinpath("events.yaml")
    data = load_yaml_text(text.read_text("utf-8"))
    sets = data["sets"]
    rules: dict[str, list[Rule]] = {}
    type_cues: dict[tuple[str, str], CueSet] = {}
    entity_triggers: dict[str, tuple[str, float]] = {}
    labels: dict[str, str] = {}
    meta: dict[str, dict[str, Any]] = {}
    for etype, spec in data["types"].items():
        if etype not in EVENT_TYPES:
            raise ValueError(f"unknown event type {etype!r} in events.yaml")
        meta[etype] = {"acled": spec.get("acled", []), "plover": spec.get("plover", [])}
        for label in [etype, *spec.get("labels", [])]:
            labels[fold_key(label)] = etype
        if "cues" in spec:
            type_cues[(etype, "en")] = _cueset(data["cues"]["en"], sets, spec["cues"])
            type_cues[(etype, "ar")] = _cueset(data["cues"]["ar"], sets, spec["cues"], "ar_")
        if "entity_trigger" in spec:
            et = spec["entity_trigger"]
            entity_triggers[et["type"]] = (etype, float(et["w"]))
        for lang in ("en", "ar"):
            type_avoid = spec.get("avoid" if lang == "en" else "ar_avoid") or []
            for r in spec.get(lang, []):
                t = str(r["t"])
                stem = t.endswith("*")
                key = fold_key(t.rstrip("*"))
                rule = Rule(
                    type=etype,
                    lang=lang,
                    key=key,
                    stem=stem,
                    w=float(r.get("w", 0.7)),
                    need=_terms(r.get("need"), sets),
                    need_also=_terms(r.get("need_also"), sets),
                    need_place=bool(r.get("need_place", False)),
                    block_after=_terms(r.get("block_after"), sets),
                    block_before=_terms(r.get("block_before"), sets),
                    suppressed_by=tuple(r.get("suppressed_by", spec.get("suppressed_by", []))),
                    avoid=_terms([*type_avoid, *(r.get("avoid") or [])], sets),
                    proper=bool(spec.get("not_in_names", False)),
                )
                rules.setdefault(key, []).append(rule)
    missing = set(EVENT_TYPES) - set(meta)
    if missing:
        raise ValueError(f"events.yaml lacks event types {sorted(missing)}")
    cues = {lang: _cueset(data["cues"][lang], sets) for lang in ("en", "ar")}
    return Lexicon(
        rules={k: tuple(v) for k, v in rules.items()},
        cues=cues,
        type_cues=type_cues,
        entity_triggers=entity_triggers,
        labels=labels,
        meta=meta,
    )


@cache
def automaton() -> ahocorasick.Automaton:
    auto = ahocorasick.Automaton()
    for key, rules in lexicon().rules.items():
        auto.add_word(key, (len(key), rules))
    auto.make_automaton()
    return auto


def resolve_event(value: str) -> str:
    """An event id or label ("mobilization", "تحشيد") -> the event id; unknown -> a slug."""
    key = fold_key(value.replace("_", " "))
    found = lexicon().labels.get(key)
    if found:
        return found
    return re.sub(r"[\s\-]+", "_", value.strip().casefold())


# --- sentences and words -------------------------------------------------


def split_sentences(text: str) -> list[Sentence]:
    """Sentence spans of ``text`` (ends at . ! ? ؟ followed by space, or a newline)."""
    out: list[Sentence] = []
    pos = 0
    for m in _SENT_END_FAST.finditer(text):
        if m.start() > pos:
            out.append(Sentence(pos, m.start()))
        pos = m.end()
    if pos < len(text):
        out.append(Sentence(pos, len(text)))
    return out


# A word's clitics (as _AR_CLITICS), matched with the space in front of the word so
# that the regex engine jumps from space to space; the text gets a leading space.
_BARE = re.compile(" (?:[وف]?[بلك]?ال|[وف]?لل|[وف][بلك]?|[بلك])(?=[^ ][^ ])")


def _offsets(words: list[str]) -> list[int]:
    """Offset of each word in ``" ".join(words)``."""
    out = list(accumulate([len(w) + 1 for w in words], initial=0))
    out.pop()
    return out


class Tokens:
    """The words of a whole text, tokenised once: every sentence's words are a range of them.

    Two strings hold the words joined by single spaces: as written (``raw``)
    and with Arabic clitics stripped from each word (``bare``, the very same
    string when nothing was stripped). Term lists run as regexes over a
    sentence's range of these strings (``pos``/``endpos``), so a sentence's
    words are never copied.

    Why once per text: building each sentence's words in Python, word by
    word, was the largest single cost of tagging a long article.
    """

    __slots__ = ("bare", "bare_off", "ends", "raw", "raw_off", "starts")

    def __init__(self, text: str) -> None:
        # [gap, word, gap, word, ..., gap]: offsets by running sums, no per-word Python
        pieces = _TOKEN_SPLIT.split(text)
        offs = list(accumulate(map(len, pieces), initial=0))
        words = pieces[1::2]
        self.starts = offs[1:-1:2]
        self.ends = offs[2:-1:2]
        self.raw = " ".join(words)
        self.raw_off = _offsets(words)
        bare = _BARE.sub(" ", " " + self.raw)[1:] if _HAS_ARABIC.search(self.raw) else self.raw
        if bare == self.raw:
            self.bare, self.bare_off = self.raw, self.raw_off
        else:
            self.bare, self.bare_off = bare, _offsets(bare.split(" "))

    def words(self, s: Sentence) -> Words:
        if s.tokens is None:
            a = bisect_left(self.starts, s.start)
            b = bisect_left(self.starts, s.end, a)
            s.tokens = Words(self, a, b)
        return s.tokens


_HAS_ARABIC = re.compile("[\u0600-\u06ff]")
_TOKEN_SPLIT = re.compile(r"(\w+)")


class Words:
    """One sentence's words: the range [a, b) of a text's :class:`Tokens`.

    Indexes given to and returned by the methods are relative to the sentence.
    """

    __slots__ = ("a", "b", "doc", "ends", "n", "seen", "starts", "strings")

    def __init__(self, doc: Tokens, a: int, b: int) -> None:
        self.doc = doc
        self.a = a
        self.b = b
        self.n = b - a
        self.starts = doc.starts[a:b]  # folded text offsets of each word
        self.ends = doc.ends[a:b]
        self.seen: dict[int, Any] = {}  # id(Terms) -> word indexes (or a presence flag)
        if (
            doc.bare is doc.raw
            or self.n == 0
            or doc.bare[doc.bare_off[a] : self._end(doc.bare, doc.bare_off, self.n)]
            == doc.raw[doc.raw_off[a] : self._end(doc.raw, doc.raw_off, self.n)]
        ):
            # No clitic stripped in this sentence: the bare scan finds what the raw one does.
            self.strings: tuple[tuple[str, list[int]], ...] = ((doc.raw, doc.raw_off),)
        else:
            self.strings = ((doc.raw, doc.raw_off), (doc.bare, doc.bare_off))

    def _end(self, string: str, off: list[int], hi: int) -> int:
        i = self.a + hi
        return off[i] - 1 if i < len(off) else len(string)

    def where(self, terms: Terms) -> list[int]:
        """Sorted indexes of the words where a term starts anywhere in the sentence (cached).

        Why: many rules of a sentence ask whether the same set (military
        words, civil objects, a type's avoid list) occurs in it; one scan per
        set and sentence answers them all.
        """
        key = id(terms)
        found = self.seen.get(key)
        if found is None:
            found = sorted(self.hits(terms, 0, self.n))
            self.seen[key] = found
        return found

    def any(self, pattern: re.Pattern[str]) -> bool:
        """Whether ``pattern`` matches anywhere in the sentence's words (cached)."""
        key = id(pattern)
        found = self.seen.get(key)
        if found is None:
            found = False
            if self.n:
                for string, off in self.strings:
                    end = min(self._end(string, off, self.n), len(string))
                    if pattern.search(string, off[self.a], end) is not None:
                        found = True
                        break
            self.seen[key] = found
        return found

    def _starts(self, terms: Terms, lo: int, hi: int, first: bool = False) -> Iterator[int]:
        """Word indexes where ``terms.pattern.finditer`` finds a match in words [lo, hi).

        The trie finds the leftmost position where some term matches (the
        same positions as the flat alternation), and the flat pattern is
        matched there only, so the alternative taken, the match's end and
        hence the next match are exactly those of ``finditer``, at a
        fraction of its cost. With ``first`` each string stops at its
        first match.
        """
        fast, pattern = terms.fast, terms.pattern
        assert fast is not None and pattern is not None
        a = self.a
        for string, off in self.strings:
            end = min(self._end(string, off, hi), len(string))
            pos = off[a + lo]
            while True:
                m = fast.search(string, pos, end)
                if m is None:
                    break
                at = m.start()
                yield bisect_right(off, at) - 1 - a
                if first:
                    break
                full = pattern.match(string, at, end)
                assert full is not None, "the trie and the flat pattern disagree"
                pos = full.end()

    def find(self, terms: Terms, lo: int, hi: int, last: bool = False) -> int:
        """Index of the first (or last) word in [lo, hi) where a term starts, or -1."""
        if terms.pattern is None or lo >= hi:
            return -1
        if last:
            found = list(self._starts(terms, lo, hi))
            return max(found) if found else -1
        # The first match of each string is where the trie first matches.
        best = -1
        fast = terms.fast
        assert fast is not None
        a = self.a
        for string, off in self.strings:
            end = off[a + hi] - 1 if a + hi < len(off) else len(string)
            m = fast.search(string, off[a + lo], end)
            if m is not None:
                i = bisect_right(off, m.start()) - 1 - a
                if best < 0 or i < best:
                    best = i
        return best

    def hits(self, terms: Terms, lo: int, hi: int) -> set[int]:
        if terms.pattern is None or lo >= hi:
            return set()
        return set(self._starts(terms, lo, hi))


# --- cues -----------------------------------------------------------------


def _cue_before(w: Words, k: int, cues: CueSet) -> bool:
    """A negation/hypothetical cue governs the trigger from the words before it (< k)."""
    lo = max(0, k - STRONG_WINDOW)
    # Only the clause that holds the trigger: cut at the last breaker.
    cut = w.find(cues.breakers, lo, k, last=True)
    if cut >= 0:
        lo = cut + 1
    if lo >= k:
        return False
    strong = w.hits(cues.strong_pre, lo, k)
    near = w.hits(cues.near_pre, max(lo, k - NEAR_WINDOW), k)
    if not strong and not near:
        return False
    excepted = w.hits(cues.exceptions, lo, k)
    return bool(strong - excepted) or bool(near - excepted)


def _cue_after(w: Words, k2: int, cues: CueSet) -> bool:
    hi = min(len(w.starts), k2 + POST_WINDOW)
    cut = w.find(cues.breakers, k2, hi)
    if cut >= 0:
        hi = cut
    return w.find(cues.post, k2, hi) >= 0


def _negated(rule_type: str, lang: str, w: Words, k: int, k2: int) -> bool:
    lex = lexicon()
    cues = lex.type_cues.get((rule_type, lang)) or lex.cues[lang]
    # Most sentences hold no cue at all: one scan of the sentence settles them.
    fast = cues.any_cue.fast if cues.any_cue is not None else None
    if fast is None or not w.any(fast):
        return False
    return _cue_before(w, k, cues) or _cue_after(w, k2, cues)


# --- rules ----------------------------------------------------------------


def _boundary_ok(rule: Rule, text: str, start: int, end: int) -> bool:
    if not rule.stem and end < len(text) and text[end].isalnum():
        # Arabic nouns may carry the accusative alef ("أرتالا", "اتفاقا").
        at_end = end + 1 >= len(text) or not text[end + 1].isalnum()
        if not (rule.lang == "ar" and text[end] == "ا" and at_end):
            return False
    if start == 0 or not text[start - 1].isalnum():
        return True
    if rule.lang != "ar":
        return False
    prefix = text[word_start(text, start) : start]
    return arabic_prefix_ok(prefix, verb=True)


def _around(w: Words, start: int, end: int) -> tuple[int, int]:
    """Words before the span are [0, k); words after it are [k2, n)."""
    k = bisect_right(w.ends, start)
    k2 = bisect_right(w.starts, end - 1)
    return k, k2


def _may_hold(rule: Rule, text: str, sent: Sentence, present: dict[tuple[int, int], bool]) -> bool:
    """Whether the sentence can hold what the rule needs (a cheap superset test)."""
    for need in (rule.need, rule.need_also):
        if not need or need.loose is None:
            continue
        key = (sent.start, id(need))
        ok = present.get(key)
        if ok is None:
            ok = need.loose.search(text, sent.start, sent.end) is not None
            present[key] = ok
        if not ok:
            return False
    return True


def _rule_fires(rule: Rule, w: Words, start: int, end: int, has_place: bool) -> bool:
    if rule.need_place and not has_place:
        return False
    # The trigger's own words (a stem owns its whole word) are neither before nor after.
    k, k2 = _around(w, start, end)
    n = len(w.starts)
    for need in (rule.need, rule.need_also):
        if need:
            at = w.where(need)
            if not at or (at[0] >= k and at[-1] < k2):
                return False
    if rule.block_after and w.find(rule.block_after, k2, min(n, k2 + BLOCK_WINDOW)) >= 0:
        return False
    if rule.block_before and w.find(rule.block_before, max(0, k - BLOCK_WINDOW), k) >= 0:
        return False
    if rule.avoid and w.any(rule.avoid.fast):  # existence only: the trie answers it
        return False
    return not _negated(rule.type, rule.lang, w, k, k2)


_NAME_HEADS_AR = frozenset(
    fold_key(w)
    for w in (
        "حراك", "حركة", "كتلة", "لجنة", "جبهة", "تجمع", "تيار", "ائتلاف", "حزب", "هيئة",
        "مبادرة", "ملتقى", "منظمة", "جمعية",
    )
)  # fmt: skip
_NAME_HEADS_AR_BARE = _NAME_HEADS_AR | {w[2:] for w in _NAME_HEADS_AR if w.startswith("ال")}


def _quoted(text: str, sent: Sentence, start: int) -> bool:
    """Inside quotation marks: a name or someone's words ("terrorist and mercenary gangs")."""
    if text.find('"', sent.start, start) < 0 and text.find("«", sent.start, start) < 0:
        return False  # the usual case, without slicing the sentence
    before = text[sent.start : start]
    return before.count('"') % 2 == 1 or before.count("«") > before.count("»")


def _in_name(f: Folded, sent: Sentence, start: int, end: int) -> bool:
    """Whether a trigger sits inside a quoted or capitalised name.

    "Popular Mobilisation for Change", 'the "National Mobilisation
    Movement"', "حراك التعبئة الوطنية": the word names a movement, party or
    committee; nothing is being mobilised.
    """
    text = f.text
    before = text[sent.start : start]
    if before.count('"') % 2 == 1 or before.count("«") > before.count("»"):
        return True
    if "\u0600" <= text[start] <= "\u06ff":
        prev = re.findall(r"\w+", before[-30:])
        return bool(prev) and (
            prev[-1] in _NAME_HEADS_AR_BARE or _AR_CLITICS.sub("", prev[-1]) in _NAME_HEADS_AR_BARE
        )
    o_start, o_end = f.span(start, end)
    original = f.original
    if not original[o_start : o_start + 1].isupper():
        return False
    o_sent_start, o_sent_end = f.span(sent.start, sent.end)
    words = re.findall(r"[^\W\d_][\w'-]*", original[o_sent_start:o_sent_end])
    long_words = [w for w in words if len(w) > 3]
    if long_words and sum(w[0].isupper() for w in long_words) / len(long_words) > 0.6:
        return False  # a title-cased headline: capitals say nothing
    head = original[o_sent_start:o_start].rstrip(" '\"‘“")
    if not re.search(r"\w", head):
        nxt = re.match(r"\w*[ ]+(\w+)", original[o_end:o_sent_end])
        return bool(nxt) and nxt.group(1)[0].isupper()
    prev_word = re.findall(r"[\w'-]+", head)[-1]
    if prev_word[0].isupper():
        return True
    nxt = re.match(r"\w*[ ]+(\w+)", original[o_end:o_sent_end])
    return bool(nxt) and nxt.group(1)[0].isupper()


def find_events(
    f: Folded,
    entity_hits: list[tuple[str, str, int, int]],
    *,
    is_title: bool = False,
    sentences: list[Sentence] | None = None,
) -> tuple[list[Found], list[Sentence]]:
    """Events in ``f``: one Found per (sentence, type), best rule first.

    ``entity_hits`` are (entity id, entity type, folded start, folded end);
    places among them satisfy ``need_place`` and foreign actors trigger
    foreign_forces on their own.
    """
    text = f.text
    if sentences is None:
        sentences = split_sentences(text)
    if not sentences:
        return [], sentences
    starts = [s.start for s in sentences]
    lex = lexicon()

    def sentence_of(pos: int) -> int:
        return bisect_right(starts, pos) - 1

    places_in: dict[int, bool] = {}
    for _eid, etype, s, _e in entity_hits:
        if etype == "place":
            places_in[sentence_of(s)] = True

    tokens: Tokens | None = None
    fired: dict[int, dict[str, tuple[float, Rule | None]]] = {}
    present: dict[tuple[int, int], bool] = {}  # (sentence start, id(Terms)) -> loose hit

    def record(si: int, etype: str, w: float, rule: Rule | None) -> None:
        slot = fired.setdefault(si, {})
        if etype not in slot or slot[etype][0] < w:
            slot[etype] = (w, rule)

    for last, (length, rules) in automaton().iter(text):
        start, end = last - length + 1, last + 1
        si = sentence_of(start)
        if si < 0:
            continue
        sent = sentences[si]
        if end > sent.end:
            continue
        words = None
        for rule in rules:
            if rule.type in fired.get(si, {}) and fired[si][rule.type][0] >= rule.w:
                continue
            if not _boundary_ok(rule, text, start, end):
                continue
            if not _may_hold(rule, text, sent, present):
                continue
            if (rule.proper or _quoted(text, sent, start)) and _in_name(f, sent, start, end):
                continue
            if words is None:
                if tokens is None:
                    tokens = Tokens(text)
                words = tokens.words(sent)
            if _rule_fires(rule, words, start, end, places_in.get(si, False)):
                record(si, rule.type, rule.w, rule)

    for _eid, etype, s, e in entity_hits:
        trig = lex.entity_triggers.get(etype)
        if trig is None:
            continue
        si = sentence_of(s)
        if si < 0:
            continue
        slot = fired.get(si)
        if slot and trig[0] in slot and slot[trig[0]][0] >= trig[1]:
            continue  # a rule already gave this type here at least this weight
        if tokens is None:
            tokens = Tokens(text)
        words = tokens.words(sentences[si])
        k, k2 = _around(words, s, e)
        lang = "ar" if any("\u0600" <= c <= "\u06ff" for c in text[s:e]) else "en"
        if not _negated(trig[0], lang, words, k, k2):
            record(si, trig[0], trig[1], None)

    background = BackgroundFlags(text, [(s.start, s.end) for s in sentences], is_title=is_title)
    out: list[Found] = []
    for si, types in sorted(fired.items()):
        sent = sentences[si]
        for etype, (w, rule) in types.items():
            suppressors = rule.suppressed_by if rule else ()
            if any(other in types for other in suppressors):
                continue
            out.append(Found(etype, w, sent.start, sent.end, background[si]))
    return out, sentences
