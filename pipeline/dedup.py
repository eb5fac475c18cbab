"""Identity: canonical URLs, ids, content hashes and near-duplicate stories.

An article's id is a hash of its canonical URL, so every stage can be re-run
and upsert the same rows. Exact copies share a content hash; syndicated
near-copies (wire stories with a changed headline) share a ``story_id`` found
with MinHash LSH over word shingles.

MinHash and the LSH index are written here over NumPy alone, with the same
hash function, permutations and banding as datasketch's default scheme (so the
signatures and story ids are those of the datasketch-based code they replace,
which a test checks): datasketch's LSH imports SciPy, which cost ~350 ms at
every start of the command and of each extraction worker. NumPy itself is
imported only when a signature is first computed.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url

from pipeline.textnorm import normalise_for_search

if TYPE_CHECKING:
    import numpy as np

NUM_PERM = 64
SHINGLE = 3
_WORD = re.compile(r"\w+", re.UNICODE)


def canonical_url(url: str) -> str:
    """Lower-case scheme/host, sorted query without tracking parameters, no fragment."""
    url = url.strip()
    try:
        clean = normalize_url(url)
    except Exception:  # courlan raises on some odd inputs; keep the URL as given then
        clean = url
    parts = urlsplit(clean)
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def _digest(text: str, size: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def article_id(url: str) -> str:
    """The article id: a short hash of the canonical URL."""
    return _digest(canonical_url(url))


def item_id(feed: str, guid_or_link: str) -> str:
    """Feed items are unique per (feed, guid or link)."""
    return _digest(f"{feed}\x1f{guid_or_link.strip()}")


def words(text: str) -> list[str]:
    return _WORD.findall(normalise_for_search(text).casefold())


def content_hash(text: str) -> str:
    """Hash of the normalised words: whitespace, case and Arabic variants do not count."""
    return _digest(" ".join(words(text)), 32)


_SEED = 7
# MurmurHash3's 32-bit finalizer (shift, multiplier, shift, multiplier, shift).
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of the affine permutations h -> a*h + b mod 2^32, a odd (a bijection).

    Drawn exactly as datasketch's default ("affine32") scheme draws them.
    """
    import numpy as np

    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _sha1_32(data: bytes) -> int:
    return struct.unpack("<I", hashlib.sha1(data).digest()[:4])[0]


def minhash(text: str, num_perm: int = NUM_PERM) -> np.ndarray:
    """The MinHash signature (uint32 array) of the text's word 3-shingles."""
    import numpy as np

    tokens = words(text)
    shingles = {" ".join(tokens[i : i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1))}
    a, b = _permutations(num_perm, _SEED)
    hv = np.array([_sha1_32(sh.encode("utf-8")) for sh in shingles], dtype=np.uint32)
    s1, m1, s2, m2, s3 = (np.uint32(c) for c in _FMIX32)
    hv = hv ^ (hv >> s1)
    hv = hv * m1  # uint32 arithmetic wraps: the modulo 2^32 is intended
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    hv = hv ^ (hv >> s3)
    phv = hv.reshape(-1, 1) * a + b
    return phv.min(axis=0)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal minima."""
    return float((a == b).sum()) / len(a)


@lru_cache(maxsize=16)
def lsh_params(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows per band) minimising the equally weighted false-positive and
    false-negative mass, as datasketch chooses them.

    The integrands are polynomials of degree <= num_perm, which Gauss-Legendre
    with num_perm nodes integrates exactly (up to rounding), as SciPy's
    ``quad`` did; every (bands, rows) pair is evaluated at once.
    """
    import numpy as np

    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bands = np.array([p[0] for p in pairs], dtype=float)[:, None]
    rows = np.array([p[1] for p in pairs], dtype=float)[:, None]
    nodes, weights = np.polynomial.legendre.leggauss(num_perm)

    def mass(lo: float, hi: float, negative: bool) -> Any:
        s = (hi - lo) / 2 * nodes + (hi + lo) / 2
        collide = 1 - (1 - s[None, :] ** rows) ** bands
        values = 1 - collide if negative else collide
        return (hi - lo) / 2 * (values * weights).sum(axis=1)

    error = 0.5 * mass(0.0, threshold, False) + 0.5 * mass(threshold, 1.0, True)
    return pairs[int(np.argmin(error))]  # the first minimum, as the strict < loop kept


class MinHashIndex:
    """LSH over MinHash signatures: keys whose signatures agree on a whole band."""

    def __init__(self, threshold: float, num_perm: int = NUM_PERM) -> None:
        bands, rows = lsh_params(threshold, num_perm)
        self._ranges = [(i * rows, (i + 1) * rows) for i in range(bands)]
        self._tables: list[dict[bytes, list[str]]] = [{} for _ in range(bands)]

    def insert(self, key: str, signature: np.ndarray) -> None:
        for (lo, hi), table in zip(self._ranges, self._tables, strict=True):
            table.setdefault(signature[lo:hi].tobytes(), []).append(key)

    def query(self, signature: np.ndarray) -> set[str]:
        found: set[str] = set()
        for (lo, hi), table in zip(self._ranges, self._tables, strict=True):
            found.update(table.get(signature[lo:hi].tobytes(), ()))
        return found


class StoryClusterer:
    """Assigns story ids: an article near-identical to a known one joins its story.

    The story id is the smallest article id in the cluster, so the result does
    not depend on the order articles arrive in (a crashed and resumed run ends
    with the same ids as one clean run). When a newcomer links clusters or has
    a smaller id, ``assign`` reports the articles whose story id changed.
    """

    def __init__(self, threshold: float = 0.8) -> None:
        self._lsh = MinHashIndex(threshold)
        self._story: dict[str, str] = {}
        self._members: dict[str, set[str]] = {}

    def add_known(self, items: Iterable[tuple[str, str, str]]) -> None:
        for art_id, story_id, text in items:
            self._insert(art_id, story_id, minhash(text))

    def _insert(self, art_id: str, story_id: str, mh: np.ndarray) -> None:
        if art_id in self._story:
            return
        self._lsh.insert(art_id, mh)
        self._story[art_id] = story_id
        self._members.setdefault(story_id, set()).add(art_id)

    def story_of(self, art_id: str) -> str | None:
        return self._story.get(art_id)

    def assign(self, art_id: str, text: str) -> tuple[str, dict[str, str]]:
        """-> (story id of art_id, {other article id: its new story id} for relabelled ones)."""
        if art_id in self._story:
            return self._story[art_id], {}
        mh = minhash(text)
        stories = {self._story[m] for m in self._lsh.query(mh)}
        story = min(stories | {art_id})
        relabelled: dict[str, str] = {}
        for old in sorted(stories - {story}):
            for member in self._members.pop(old, set()):
                self._story[member] = story
                self._members.setdefault(story, set()).add(member)
                relabelled[member] = story
        self._insert(art_id, story, mh)
        return story, relabelled
