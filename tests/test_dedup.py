"""Identity: canonical URLs, ids, content hashes, story clusters."""

from __future__ import annotations

from pipeline.dedup import StoryClusterer, article_id, canonical_url, content_hash, item_id

STORY = (
    "Libya's Government of National Accord said on Monday that forces loyal to Khalifa "
    "Haftar had begun a large mobilisation in the east, with convoys moving from Benghazi "
    "towards Sirte and Jufra despite the political dialogue under way in Tunis."
)


def test_canonical_url_strips_tracking_and_fragment() -> None:
    a = canonical_url("HTTPS://Www.Example.com/news/a.html?utm_source=rss&utm_medium=feed#top")
    assert a == "https://www.example.com/news/a.html"
    assert canonical_url("https://example.com/a?b=2&a=1") == "https://example.com/a?a=1&b=2"
    assert canonical_url("http://example.com") == "http://example.com/"


def test_ids_are_stable_and_ignore_tracking() -> None:
    assert article_id("https://x.ly/a?utm_source=t") == article_id("https://x.ly/a")
    assert article_id("https://x.ly/a") != article_id("https://x.ly/b")
    assert item_id("feed", "guid-1") == item_id("feed", " guid-1 ")
    assert item_id("feed", "guid-1") != item_id("other", "guid-1")


def test_content_hash_ignores_case_space_and_arabic_variants() -> None:
    assert content_hash("Haftar  forces\nmove") == content_hash("haftar forces move")
    assert content_hash("قوات حفتر تتجه إلى سرت") == content_hash("قوات حفتر تتجه الى سرت")
    assert content_hash("a b") != content_hash("a c")


def test_near_copies_share_a_story_whatever_the_order() -> None:
    copy = STORY.replace("on Monday", "on Monday evening") + " Officials gave no figures."
    other = "Oil output rose to 1.2 million barrels a day, the National Oil Corporation said."
    for order in (["b", "a", "c"], ["a", "b", "c"], ["c", "b", "a"]):
        texts = {"a": STORY, "b": copy, "c": other}
        clusterer = StoryClusterer(0.5)
        stories: dict[str, str] = {}
        for art in order:
            story, moved = clusterer.assign(art, texts[art])
            stories[art] = story
            stories.update(moved)
        assert stories == {"a": "a", "b": "a", "c": "c"}, order


def test_minhash_and_banding_equal_datasketchs_default_scheme() -> None:
    """The NumPy MinHash replaced datasketch's (whose LSH imports SciPy): same
    signatures, same (bands, rows), so the same story ids as before."""
    from datasketch import MinHash
    from datasketch.lsh import _optimal_param

    from pipeline.dedup import NUM_PERM, SHINGLE, jaccard, lsh_params, minhash, words

    copy = STORY.replace("on Monday", "on Monday evening")
    for text in (STORY, copy, "", "a b", "قوات حفتر تتجه إلى سرت " * 30):
        tokens = words(text)
        shingles = {
            " ".join(tokens[i : i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1))
        }
        reference = MinHash(num_perm=NUM_PERM, seed=7)
        reference.update_batch([s.encode("utf-8") for s in shingles])
        assert minhash(text).tolist() == reference.hashvalues.tolist(), text[:30]
    ref_a, ref_b = MinHash(num_perm=NUM_PERM, seed=7), MinHash(num_perm=NUM_PERM, seed=7)
    for mh, text in ((ref_a, STORY), (ref_b, copy)):
        tokens = words(text)
        mh.update_batch(
            [" ".join(tokens[i : i + SHINGLE]).encode() for i in range(len(tokens) - 2)]
        )
    assert jaccard(minhash(STORY), minhash(copy)) == ref_a.jaccard(ref_b)
    for threshold in (0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
        assert lsh_params(threshold) == _optimal_param(threshold, NUM_PERM, 0.5, 0.5), threshold


def test_the_dedup_module_does_not_load_scipy_or_numpy_on_import() -> None:
    """The command and every extraction worker import dedup (for URLs and ids)."""
    import subprocess
    import sys

    code = "import sys, pipeline.dedup; print('scipy' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
