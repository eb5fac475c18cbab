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
