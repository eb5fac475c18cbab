"""Text normalisation shared by enrichment and search.

Arabic is written with optional diacritics, several alef forms, taa marbuta
or haa, yaa or alef maqsura, and tatweel stretching. Folding these makes
"الجُفرة" and "الجفره" the same word for the gazetteer and for search. Both
the indexed text and the query go through :func:`fold_arabic`, so the
embedded and the Elasticsearch backend see identical tokens.
"""

from __future__ import annotations

import re
import unicodedata

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
