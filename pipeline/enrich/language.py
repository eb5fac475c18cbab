"""Language of a text, or None when the evidence is thin.

py3langid's module-level classifier is shared global state (``set_languages``
changes it for everyone), so this module keeps its own identifier with
normalised probabilities, which gives a confidence to refuse on.
"""

from __future__ import annotations

import re
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

MIN_PROBABILITY = 0.5
ARABIC_SCRIPT_SHARE = 0.6
MIN_LETTERS = 12
SAMPLE_CHARS = 800


@cache
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` ("en", "ar", "fr", ...) or None when unsure."""
    sample = text[:SAMPLE_CHARS]
    if sum(map(str.isalpha, sample)) < MIN_LETTERS:
        return None
    lang, prob = _identifier().classify(sample)
    if _arabic_share(sample) >= ARABIC_SCRIPT_SHARE:
        # Short Arabic texts get low probabilities spread over ar/fa/ur; the
        # script is the stronger evidence unless the model is sure otherwise.
        return str(lang) if lang != "ar" and prob >= 0.9 else "ar"
    if prob < MIN_PROBABILITY:
        return _short_english(sample)
    return str(lang)


def _split(words: str) -> frozenset[str]:
    return frozenset(words.split())


_EN_WORDS = _split(
    """the of in on to for as at from with and after over near into against amid says said
    is are was were has have new its their by"""
)
_OTHER_WORDS = _split(
    """les des la le du de et pour dans sur une est il el los las del con para por una die der
    und den mit ist il della per che"""
)


def _short_english(sample: str) -> str | None:
    """A headline too short for the model: English when its small words say so.

    Why: "LNA seizes Sabha airport from rival fighters" is below the model's
    confidence, and an untagged headline loses the alert.
    """
    words = [w.lower() for w in sample.split() if w.isalpha() or w.strip(",.:;!?").isalpha()]
    words = [w.strip(",.:;!?") for w in words]
    if not words or not all(w.isascii() for w in words):
        return None
    if any(w in _OTHER_WORDS for w in words):
        return None
    return "en" if any(w in _EN_WORDS for w in words) else None


_ARABIC_BLOCK = re.compile("[\u0600-\u06ff]")


def _arabic_share(text: str) -> float:
    """Share of letters in the Arabic block (counted by C-level maps, not a Python loop)."""
    letters = sum(map(str.isalpha, text))
    if not letters:
        return 0.0
    return sum(map(str.isalpha, _ARABIC_BLOCK.findall(text))) / letters
