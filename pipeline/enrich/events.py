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
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import ahocorasick
import yaml

from pipeline.enrich.normalise import Folded, arabic_prefix_ok, fold_key, word_start
from pipeline.models import EVENT_TYPES

STRONG_WINDOW = 10
NEAR_WINDOW = 3
POST_WINDOW = 8
BLOCK_WINDOW = 4

_TOKEN = re.compile(r"\w+")
_AR_CLITICS = re.compile("^(?:[وف]?[بلك]?ال|[وف]?لل|[وف][بلك]?|[بلك])(?=..)")
_SENT_END = re.compile(r"(?<=[.!?؟。])[\"'”’)\]]*\s+|\s*\n+\s*")

Term = tuple[str, ...]  # a word sequence; a word ending in * is a stem


@dataclass(frozen=True, slots=True)
class Rule:
    type: str
    lang: str
    key: str
    stem: bool
    w: float
    need: tuple[Term, ...] = ()
    need_place: bool = False
    block_after: tuple[Term, ...] = ()
    block_before: tuple[Term, ...] = ()
    suppressed_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CueSet:
    strong_pre: tuple[Term, ...] = ()
    near_pre: tuple[Term, ...] = ()
    post: tuple[Term, ...] = ()
    exceptions: tuple[Term, ...] = ()
    breakers: tuple[Term, ...] = ()


@dataclass(frozen=True, slots=True)
class Lexicon:
    rules: dict[str, tuple[Rule, ...]]  # folded key -> rules
    cues: dict[str, CueSet]  # lang -> shared cues
    type_cues: dict[tuple[str, str], CueSet]  # (type, lang) -> extra cues
    entity_triggers: dict[str, tuple[str, float]]  # entity type -> (event type, w)
    labels: dict[str, str]  # folded label -> event type
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class Token:
    raw: str
    bare: str  # Arabic word without its clitics (same as raw otherwise)
    start: int
    end: int


@dataclass(slots=True)
class Sentence:
    start: int
    end: int
    tokens: list[Token] | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """One event type found in one sentence (folded offsets)."""

    type: str
    confidence: float
    start: int
    end: int


def _terms(items: list[str] | None, sets: dict[str, list[str]]) -> tuple[Term, ...]:
    out: list[Term] = []
    for item in map(str, items or ()):
        names = sets[item[1:]] if item.startswith("@") else [item]
        for name in names:
            words = tuple(fold_key(str(name)).split())
            if words:
                out.append(words)
    return tuple(out)


def _cueset(raw: dict[str, Any], sets: dict[str, list[str]], prefix: str = "") -> CueSet:
    return CueSet(
        strong_pre=_terms(raw.get(prefix + "strong_pre"), sets),
        near_pre=_terms(raw.get(prefix + "near_pre"), sets),
        post=_terms(raw.get(prefix + "post"), sets),
        exceptions=_terms(raw.get(prefix + "exceptions"), sets),
        breakers=_terms(raw.get(prefix + "clause_breakers"), sets),
    )


@cache
def lexicon() -> Lexicon:
    """The event lexicon, read once per process."""
    text = resources.files("pipeline.enrich").joinpath("data").joinpath("events.yaml")
    data = yaml.safe_load(text.read_text("utf-8"))
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
            type_cues[(etype, "en")] = _cueset(spec["cues"], sets)
            type_cues[(etype, "ar")] = _cueset(spec["cues"], sets, "ar_")
        if "entity_trigger" in spec:
            et = spec["entity_trigger"]
            entity_triggers[et["type"]] = (etype, float(et["w"]))
        for lang in ("en", "ar"):
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
                    need_place=bool(r.get("need_place", False)),
                    block_after=_terms(r.get("block_after"), sets),
                    block_before=_terms(r.get("block_before"), sets),
                    suppressed_by=tuple(r.get("suppressed_by", spec.get("suppressed_by", []))),
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


# --- sentences and tokens -------------------------------------------------


def split_sentences(text: str) -> list[Sentence]:
    """Sentence spans of ``text`` (ends at . ! ? ؟ followed by space, or a newline)."""
    out: list[Sentence] = []
    pos = 0
    for m in _SENT_END.finditer(text):
        if m.start() > pos:
            out.append(Sentence(pos, m.start()))
        pos = m.end()
    if pos < len(text):
        out.append(Sentence(pos, len(text)))
    return out


def _tokens(text: str, s: Sentence) -> list[Token]:
    if s.tokens is None:
        toks = []
        for m in _TOKEN.finditer(text, s.start, s.end):
            raw = m.group()
            bare = _AR_CLITICS.sub("", raw) if "\u0600" <= raw[0] <= "\u06ff" else raw
            toks.append(Token(raw, bare, m.start(), m.end()))
        s.tokens = toks
    return s.tokens


def _word_ok(word: str, tok: Token) -> bool:
    if word.endswith("*"):
        w = word[:-1]
        return tok.raw.startswith(w) or tok.bare.startswith(w)
    return tok.raw == word or tok.bare == word


def _term_at(tokens: list[Token], i: int, term: Term) -> bool:
    if i + len(term) > len(tokens):
        return False
    return all(_word_ok(w, tokens[i + k]) for k, w in enumerate(term))


def _find_term(tokens: list[Token], terms: tuple[Term, ...]) -> int:
    """Index of the last token position where any term starts, or -1."""
    for i in range(len(tokens) - 1, -1, -1):
        if any(_term_at(tokens, i, t) for t in terms):
            return i
    return -1


def _first_term(tokens: list[Token], terms: tuple[Term, ...]) -> int:
    for i in range(len(tokens)):
        if any(_term_at(tokens, i, t) for t in terms):
            return i
    return -1


# --- cues -----------------------------------------------------------------


def _cue_before(before: list[Token], cues: CueSet, extra: CueSet | None) -> bool:
    """A negation/hypothetical cue governs the trigger from the words before it."""
    strong = cues.strong_pre + (extra.strong_pre if extra else ())
    near = cues.near_pre + (extra.near_pre if extra else ())
    window = before[-STRONG_WINDOW:]
    # Only the clause that holds the trigger: cut at the last breaker.
    cut = _find_term(window, cues.breakers)
    if cut >= 0:
        window = window[cut + 1 :]
    for i in range(len(window)):
        if any(_term_at(window, i, t) for t in cues.exceptions):
            continue
        if any(_term_at(window, i, t) for t in strong):
            return True
        if i >= len(window) - NEAR_WINDOW and any(_term_at(window, i, t) for t in near):
            return True
    return False


def _cue_after(after: list[Token], cues: CueSet, extra: CueSet | None) -> bool:
    post = cues.post + (extra.post if extra else ())
    window = after[:POST_WINDOW]
    cut = _first_term(window, cues.breakers)
    if cut >= 0:
        window = window[:cut]
    return _first_term(window, post) >= 0


def _negated(rule_type: str, lang: str, before: list[Token], after: list[Token]) -> bool:
    lex = lexicon()
    cues = lex.cues[lang]
    extra = lex.type_cues.get((rule_type, lang))
    return _cue_before(before, cues, extra) or _cue_after(after, cues, extra)


# --- rules ----------------------------------------------------------------


def _boundary_ok(rule: Rule, text: str, start: int, end: int) -> bool:
    if not rule.stem and end < len(text) and text[end].isalnum():
        return False
    if start == 0 or not text[start - 1].isalnum():
        return True
    if rule.lang != "ar":
        return False
    prefix = text[word_start(text, start) : start]
    return arabic_prefix_ok(prefix, verb=True)


def _split(
    tokens: list[Token], start: int, end: int
) -> tuple[list[Token], list[Token], list[Token]]:
    before = [t for t in tokens if t.end <= start]
    after = [t for t in tokens if t.start >= end and t.start > start]
    inside = [t for t in tokens if t.start < end and t.end > start]
    return before, inside, after


def _rule_fires(rule: Rule, tokens: list[Token], start: int, end: int, has_place: bool) -> bool:
    # The trigger's own words (a stem owns its whole word) are neither before nor after.
    before, _inside, after = _split(tokens, start, end)
    if rule.need_place and not has_place:
        return False
    if rule.need and _first_term(before + after, rule.need) < 0:
        return False
    if rule.block_after and _first_term(after[:BLOCK_WINDOW], rule.block_after) >= 0:
        return False
    if rule.block_before and _find_term(before[-BLOCK_WINDOW:], rule.block_before) >= 0:
        return False
    return not _negated(rule.type, rule.lang, before, after)


def find_events(
    f: Folded, entity_hits: list[tuple[str, str, int, int]]
) -> tuple[list[Found], list[Sentence]]:
    """Events in ``f``: one Found per (sentence, type), best rule first.

    ``entity_hits`` are (entity id, entity type, folded start, folded end);
    places among them satisfy ``need_place`` and foreign actors trigger
    foreign_forces on their own.
    """
    text = f.text
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

    fired: dict[int, dict[str, tuple[float, Rule | None]]] = {}

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
        tokens = None
        for rule in rules:
            if rule.type in fired.get(si, {}) and fired[si][rule.type][0] >= rule.w:
                continue
            if not _boundary_ok(rule, text, start, end):
                continue
            if tokens is None:
                tokens = _tokens(text, sent)
            if _rule_fires(rule, tokens, start, end, places_in.get(si, False)):
                record(si, rule.type, rule.w, rule)

    for _eid, etype, s, e in entity_hits:
        trig = lex.entity_triggers.get(etype)
        if trig is None:
            continue
        si = sentence_of(s)
        if si < 0:
            continue
        tokens = _tokens(text, sentences[si])
        before, _inside, after = _split(tokens, s, e)
        lang = "ar" if any("\u0600" <= c <= "\u06ff" for c in text[s:e]) else "en"
        if not _negated(trig[0], lang, before, after):
            record(si, trig[0], trig[1], None)

    out: list[Found] = []
    for si, types in sorted(fired.items()):
        sent = sentences[si]
        for etype, (w, rule) in types.items():
            suppressors = rule.suppressed_by if rule else ()
            if any(other in types for other in suppressors):
                continue
            out.append(Found(etype, w, sent.start, sent.end))
    return out, sentences
