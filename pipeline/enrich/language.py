"""Language of a text, or None when the evidence is thin.

py3langid's module-level classifier is shared global state (``set_languages``
changes it for everyone), so this module keeps its own identifier with
normalised probabilities, which gives a confidence to refuse on.
"""

from __future__ import annotations

from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

MIN_PROBABILITY = 0.7
MIN_LETTERS = 12
SAMPLE_CHARS = 2000


@cache
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` ("en", "ar", "fr", ...) or None when unsure."""
    sample = text[:SAMPLE_CHARS]
    if sum(c.isalpha() for c in sample) < MIN_LETTERS:
        return None
    lang, prob = _identifier().classify(sample)
    if prob < MIN_PROBABILITY:
        return None
    return str(lang)
