"""The tagger's full output on the dev texts and the demo pages, pinned by hash.

Speed work must not change a single tag, offset, confidence or position.
``tests/data/enrich_golden.jsonl`` holds, for every labelled dev text (with
its title and language detected, and without a title with its language
given) and every demo corpus page, the SHA-256 of the ``newswatch enrich
--jsonl`` record. It was written by the tagger before the speed work of the
second round; ``benchmarks/enrich_speed.py --check`` compares the same texts
against a git revision directly.

A deliberate rule change re-pins it: ``python tests/test_enrich_golden.py
--write`` (and say in the commit why the output changed).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "enrich_golden.jsonl"
DEV_FILES = (
    ROOT / "tests" / "data" / "devset.jsonl",
    ROOT / "tests" / "data" / "enrich_eval_dev.jsonl",
)
SITE = ROOT / "pipeline" / "demo" / "site"


def _items() -> list[tuple[str, dict[str, Any]]]:
    import trafilatura

    items: list[tuple[str, dict[str, Any]]] = []
    for path in DEV_FILES:
        for line in path.read_text("utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            key = f"{path.stem}:{row['id']}"
            items.append((f"{key}:detect", {"text": row["text"], "title": row.get("title") or ""}))
            items.append((f"{key}:given", {"text": row["text"], "lang": row["lang"]}))
    for page in sorted(SITE.rglob("*.html")):
        text = trafilatura.extract(page.read_text("utf-8")) or ""
        if text.strip():
            rel = page.relative_to(SITE).as_posix()
            items.append((f"demo:{rel}", {"text": text, "title": page.stem.replace("-", " ")}))
    return items


def _digests() -> dict[str, str]:
    from pipeline.enrich import enrich_text

    out = {}
    for key, kw in _items():
        record = enrich_text(**kw).record()
        blob = json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8")
        out[key] = hashlib.sha256(blob).hexdigest()
    return out


def test_output_is_unchanged_on_dev_texts_and_demo_pages() -> None:
    pinned = {}
    for line in GOLDEN.read_text("utf-8").splitlines():
        row = json.loads(line)
        pinned[row["key"]] = row["sha256"]
    now = _digests()
    assert set(now) == set(pinned), "the set of pinned texts changed; re-pin with --write"
    changed = sorted(k for k in now if now[k] != pinned[k])
    assert not changed, f"{len(changed)} outputs changed, e.g. {changed[:5]}"
    assert len(now) >= 700


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/test_enrich_golden.py --write")
    lines = [json.dumps({"key": k, "sha256": v}) for k, v in _digests().items()]
    GOLDEN.write_text("\n".join(lines) + "\n", "utf-8")
    print(f"pinned {len(lines)} outputs in {GOLDEN.relative_to(ROOT)}")
