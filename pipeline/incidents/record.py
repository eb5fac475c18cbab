"""The published incident record, built from the incident's linked reports.

Pure: the same reports give the same record (sorted, no clock), so rebuilding
after any re-run changes nothing. Evidence keeps the strongest sentences per
language (confidence, then headline/lead before body), each with its article.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pipeline.incidents.mentions import MentionIn
from pipeline.incidents.taxonomy import codes

EVIDENCE_PER_LANG = 3
_POS_RANK = {"headline": 0, "lead": 1, "body": 2, "background": 3}


def report_data(m: MentionIn) -> dict[str, Any]:
    """What is stored per linked report (and rebuilt into the record)."""
    return {
        "article_id": m.article_id,
        "type": m.type,
        "day": m.day,
        "date_provenance": m.date_provenance,
        "places": [
            {"id": p.id, "name": p.name, "lat": p.lat, "lon": p.lon, "country": p.country}
            for p in m.places
        ],
        "actors": list(m.actors),
        "actor_names": dict(m.extra.get("actor_names", {})),
        "lang": m.lang,
        "source": m.source,
        "published": m.published.isoformat() if m.published else None,
        "confidence": round(m.confidence, 3),
        "evidence": m.evidence,
        "position": m.position,
        "url": m.url,
        "title": m.title,
    }


def build_record(
    incident_id: str, event_type: str, reports: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    reps = sorted(reports, key=lambda r: (r.get("published") or "", r["article_id"]))
    if not reps:
        return {"id": incident_id, "type": event_type, "reports": 0}
    acled_type, sub_type, plover = codes(event_type)
    days = sorted(r["day"] for r in reps)
    places: dict[str, dict[str, Any]] = {}
    place_votes: dict[str, int] = {}
    actors: dict[str, str] = {}
    actor_votes: dict[str, int] = {}
    for r in reps:
        for p in r["places"]:
            places.setdefault(p["id"], p)
            place_votes[p["id"]] = place_votes.get(p["id"], 0) + 1
        for a in r["actors"]:
            actors.setdefault(a, r.get("actor_names", {}).get(a, a))
            actor_votes[a] = actor_votes.get(a, 0) + 1
    place_order = sorted(places, key=lambda p: (-place_votes[p], p))
    actor_order = sorted(actors, key=lambda a: (-actor_votes[a], a))
    # the modal day is the event date; its provenance is that of its first report
    modal = max(set(days), key=lambda d: (days.count(d), -d))
    provenance = next(r["date_provenance"] for r in reps if r["day"] == modal)
    evidence: list[dict[str, Any]] = []
    for lang in sorted({r.get("lang") or "" for r in reps}):
        best = sorted(
            (r for r in reps if (r.get("lang") or "") == lang and r.get("evidence")),
            key=lambda r: (-r["confidence"], _POS_RANK.get(r["position"], 9), r["article_id"]),
        )
        seen: set[str] = set()
        for r in best:
            if r["evidence"] in seen:
                continue
            seen.add(r["evidence"])
            evidence.append(
                {
                    k: r.get(k)
                    for k in (
                        "evidence",
                        "lang",
                        "article_id",
                        "url",
                        "title",
                        "source",
                        "confidence",
                    )
                }
            )
            if len(seen) >= EVIDENCE_PER_LANG:
                break
    published = [r["published"] for r in reps if r.get("published")]
    return {
        "id": incident_id,
        "type": event_type,
        "acled_event_type": acled_type,
        "sub_event_type": sub_type,
        "plover": plover,
        "event_date": date.fromordinal(modal).isoformat(),
        "date_provenance": provenance,
        "first_day": date.fromordinal(days[0]).isoformat(),
        "last_day": date.fromordinal(days[-1]).isoformat(),
        "first_report": min(published) if published else None,
        "last_report": max(published) if published else None,
        "places": [places[p] for p in place_order],
        "actors": [{"id": a, "name": actors[a]} for a in actor_order],
        "reports": len(reps),
        "outlets": sorted({r["source"] for r in reps if r.get("source")}),
        # in the order they first reported (reports are sorted by publication)
        "languages": list(dict.fromkeys(r["lang"] for r in reps if r.get("lang"))),
        "evidence": evidence,
        "articles": [
            {
                k: r.get(k)
                for k in (
                    "article_id",
                    "url",
                    "title",
                    "source",
                    "lang",
                    "published",
                    "evidence",
                    "position",
                )
            }
            for r in reps
        ],
    }
