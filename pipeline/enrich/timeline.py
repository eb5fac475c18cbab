"""Which sentences report the current event and which recall earlier ones.

Long articles carry background paragraphs ("In 2019, Haftar's forces
launched an offensive...", "The ceasefire signed in Geneva in 2020...",
"وكانت المدينة قد شهدت معارك عام 2014"). Their events are context, not news:
tagging them as current fired alerts on last year's war. A sentence is
background when it carries a past-time marker (an explicit earlier year, "last
year", "years ago", "has been shut many times", the Arabic pluperfect "كان
... قد") and no present-time marker ("on Monday", "this week", "يوم الاثنين").
A background sentence opens a background stretch: the sentences after it in
the same paragraph are background too until a present-time marker returns.

Why years are compared with the text's latest year: an expert note dated
"On 4 April 2019, ..." reports that event, while the same date in the body
of a later article recalls it. The latest year a text mentions is the
nearest thing to its own date, so a year equal to it in the lead still
counts as current when the date opens the lead; "since", "until", "between"
and "during" always recall.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from functools import cache

import ahocorasick

from pipeline.enrich.normalise import fold_key

_MONTHS_EN = "january|february|march|april|may|june|july|august|september|october|november|december"
_DAYS_EN = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_YEAR = r"(?:19[5-9]\d|20[0-4]\d)"

_MONTHS_AR = [
    "يناير", "فبراير", "مارس", "ابريل", "مايو", "يونيو", "يوليو", "اغسطس", "سبتمبر",
    "اكتوبر", "نوفمبر", "ديسمبر", "كانون", "شباط", "اذار", "نيسان", "ايار", "حزيران",
    "تموز", "اب", "ايلول", "تشرين",
]  # fmt: skip
_DAYS_AR = ["الاثنين", "الثلاثاء", "الاربعاء", "الخميس", "الجمعه", "السبت", "الاحد"]


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(always-past, dated, past phrases, present) over folded text, built once."""
    months_ar = "|".join(fold_key(m) for m in _MONTHS_AR)
    days_ar = "|".join(fold_key(d) for d in _DAYS_AR)
    always = re.compile(
        rf"\b(?:since|until|till|between|during|before|by the end of|throughout)\s+"
        rf"(?:(?:early|late|mid|the (?:summer|spring|autumn|winter|end|start) of)\s+)?"
        rf"(?:(?:\d{{1,2}}\s+)?(?:{_MONTHS_EN})\s+)?{_YEAR}\b"
        rf"|(?:منذ|حتى|بين|خلال|ابان|قبل)\s+(?:(?:عام|العام|سنه|مطلع|اواخر|صيف|خريف|شتاء|ربيع)\s+)?"
        rf"(?:(?:{months_ar})\s+)?{_YEAR}"
        rf"|\b{_YEAR}\s+and\s+{_YEAR}\b"
    )
    dated = re.compile(
        rf"\b(?:in|of|on)\s+(?:(?:early|late|mid|the (?:summer|spring|autumn|winter) of)\s+)?"
        rf"(?:(?:\d{{1,2}}\s+)?(?:{_MONTHS_EN})\s+)?({_YEAR})\b"
        rf"|\b(?:{_MONTHS_EN})\s+({_YEAR})\b"
        rf"|({_YEAR})\b"
    )
    past = re.compile(
        r"\blast (?:year|month|summer|winter|spring|autumn|decade)(?:'s)?\b"
        r"|\b(?:years|months|decades|a decade|a year|weeks|\w+ years) ago\b"
        r"|\bin the past\b|\bpreviously\b|\bmany times\b|\brepeated(?:ly)?\b|\bin recent years\b"
        r"|\b(?:has|have) seen\b|\b\w+ years later\b"
        r"|\b(?:was|were) the scene of\b|\bnot new\b|\bhas changed hands before\b"
        r"|\bthe war that ended\b|\bduring the (?:war|conflict|offensive|fighting)\b"
        r"|\bunthinkable\b|\bfirst (?:deployed|arrived)\b|\bof that year\b|\bthat (?:year|summer)\b"
        r"|\bhas been (?:shut|closed|spared)\b|\bhave been (?:shut|closed|spared)\b"
        r"|\bhas long\b|\bhave long\b|\bhas a history\b|\bhistory of\b"
        r"|\bare still being\b"
        r"|(?:^| )(?:و|ف)?كان(?:ت|وا|تا)?(?: \S+){0,5} قد "
        r"|العام الماضي|الشهر الماضي|في السابق|في الماضي|سبق (?:ان|ل)|منذ سنوات|قبل سنوات"
        r"|مسرحا ل|مرات عد[يه]د?ه?|ليست جديده|ليس جديدا|يستحضر|الى الاذهان|ذلك العام|تلك الفتره"
        r"|خلال الحرب|ابان الحرب|في وقت سابق من العام|بعد (?:\S+ )?سنوات|شهدت (?:\S+ )?جولات"
    )
    present = re.compile(
        rf"\b(?:on|late on|early on|late|early|since|by|overnight|last)\s+(?:{_DAYS_EN})\b"
        rf"|\b(?:{_DAYS_EN})(?:'s)?\s+(?:morning|evening|night|afternoon)\b"
        r"|\btoday\b|\btonight\b|\bthis (?:week|morning|evening|afternoon)\b"
        r"|\bovernight\b|\bhours later\b|\bthis week\b|\bon \d{1,2} (?:"
        + _MONTHS_EN
        + rf")\b(?! {_YEAR})"
        rf"|(?:يوم|صباح|مساء|ليل|فجر|ليله|ظهر)\s+(?:{days_ar}|اليوم|امس)"
        r"|(?:^| )(?:و)?(?:اليوم|الليله|حاليا|الان|امس)(?: |$)|هذا الاسبوع|الساعات الماضيه"
    )
    return always, dated, past, present


_CHEAP_WORDS = [
    "last",
    "ago",
    "past",
    "previous",
    "many times",
    "repeated",
    "scene of",
    "not new",
    "hands before",
    "war",
    "unthinkable",
    "first",
    "that year",
    "that summer",
    "has been",
    "have been",
    "long",
    "history",
    "still",
    "seen",
    "years later",
    "كان",
    "الماضي",
    "السابق",
    "سبق",
    "سنوات",
    "مسرحا",
    "مرات",
    "جديد",
    "يستحضر",
    "الاذهان",
    "ذلك",
    "تلك",
    "الحرب",
    "جولات",
]
_DIGITS = re.compile(r"\d\d\d\d")
_CHEAP = re.compile(_DIGITS.pattern + "|" + "|".join(map(re.escape, _CHEAP_WORDS)))


@cache
def _cheap_automaton() -> ahocorasick.Automaton:
    auto = ahocorasick.Automaton()
    for w in _CHEAP_WORDS:
        auto.add_word(w, len(w))
    auto.make_automaton()
    return auto


def cheap_marks(text: str) -> list[int]:
    """Sorted starts of every match of the cheap first look in ``text``, in one C pass.

    A sentence holds a match of :data:`_CHEAP` exactly when one of these
    starts falls inside it: no word here holds sentence-ending punctuation
    or a newline, so no match straddles two sentences.
    """
    marks = [end - n + 1 for end, n in _cheap_automaton().iter(text)]
    marks += [m.start() for m in _DIGITS.finditer(text)]
    marks.sort()
    return marks


def _may_mark(sentence: str) -> bool:
    """A cheap first look: without any of these, no past marker can match."""
    return _CHEAP.search(sentence) is not None


# rf"\b{_YEAR}\b", each branch led by its first digit so the regex engine skips to
# the digits; "(?<!\w.)" after the first digit is the "\b" in front of it.
_YEAR_WORD = re.compile(r"1(?<!\w.)9[5-9]\d\b|2(?<!\w.)0[0-4]\d\b")


def latest_year(text: str) -> int | None:
    """The latest year the (folded) text mentions: the best guess of its own date."""
    years = [int(m.group()) for m in _YEAR_WORD.finditer(text)]
    return max(years) if years else None


def is_background(sentence: str, *, lead: bool, latest: int | None) -> bool | None:
    """True: recalls the past; False: marked as current; None: no marker either way."""
    if not _may_mark(sentence):
        return None
    always, dated, past, present = _patterns()
    if always.search(sentence):
        return True
    if present.search(sentence):
        return False
    if past.search(sentence):
        return True
    for m in dated.finditer(sentence):
        year = int(next(g for g in m.groups() if g))
        # "On 4 April 2019, ..." opening a lead dates the report itself.
        opens = m.start() < 4 or not re.search(r"\w", sentence[: m.start()])
        if not (lead and opens and latest is not None and year >= latest):
            return True
    return None


def paragraph_starts(text: str) -> list[int]:
    """Offsets where paragraphs begin (a newline ends a paragraph)."""
    return [0] + [m.end() for m in re.finditer(r"\n\s*", text)]


class BackgroundFlags:
    """Whether each sentence span of ``text`` (folded) is background, computed on demand.

    A background sentence carries the flag forward within its paragraph until
    a sentence marked as current. Only sentences that hold an event are asked
    about (and the ones before them in their paragraph), which keeps long
    articles cheap.
    """

    def __init__(self, text: str, spans: list[tuple[int, int]], *, is_title: bool) -> None:
        self.text = text
        self.spans = spans
        self.is_title = is_title
        self.para_starts = paragraph_starts(text)
        self.latest = latest_year(text)
        self._verdict: dict[int, bool | None] = {}
        self._flag: dict[int, bool] = {}
        # Where the cheap first look matches at all, found in one pass over the
        # text: no match can straddle two sentences (the markers hold no
        # sentence-ending punctuation or newline), so a sentence without one of
        # these starts has no marker, and is not even sliced.
        self._marks = cheap_marks(text)
        self._paras = [bisect_right(self.para_starts, s) - 1 for s, _e in spans]

    def _para(self, i: int) -> int:
        return self._paras[i]

    def _own(self, i: int) -> bool | None:
        if i not in self._verdict:
            start, end = self.spans[i]
            k = bisect_left(self._marks, start)
            if k == len(self._marks) or self._marks[k] >= end:
                self._verdict[i] = None
            else:
                lead = self.is_title or self._para(i) == 0
                sentence = self.text[start:end]
                self._verdict[i] = is_background(sentence, lead=lead, latest=self.latest)
        return self._verdict[i]

    def __getitem__(self, i: int) -> bool:
        flag = self._flag.get(i)
        if flag is None:
            flag = self._flag[i] = self._walk(i)
        return flag

    def _walk(self, i: int) -> bool:
        para = self._para(i)
        j = i
        while j >= 0 and self._para(j) == para:
            verdict = self._own(j)
            if verdict is not None:
                return verdict
            j -= 1
        return False


def background_flags(text: str, spans: list[tuple[int, int]], *, is_title: bool) -> list[bool]:
    """Every sentence's flag at once (see :class:`BackgroundFlags`)."""
    flags = BackgroundFlags(text, spans, is_title=is_title)
    return [flags[i] for i in range(len(spans))]
