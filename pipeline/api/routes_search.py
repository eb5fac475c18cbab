"""``GET /api/search``: hits as in ``search --json``, plus facets and collapsing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from pipeline.api.auth import read_access
from pipeline.api.histogram import time_bins
from pipeline.api.models import (
    ErrorBody,
    Facets,
    FacetValue,
    Histogram,
    HistogramBin,
    SearchResponse,
)
from pipeline.api.params import Filters, Sort, filters
from pipeline.api.resources import Resources
from pipeline.search.base import SearchResult

router = APIRouter(tags=["search"], dependencies=[Depends(read_access)])

# backend facet name -> API facet name
FACET_NAMES = {
    "source": "sources",
    "lang": "languages",
    "event": "events",
    "place": "places",
    "entity": "entities",
    "day": "days",
}


def _gazetteer_lookup() -> Any:
    """The gazetteer's entry lookup, or None while enrichment is not installed."""
    try:
        from pipeline.enrich.gazetteer import get_entity
    except ImportError:
        return None
    return get_entity


def facets_body(result: SearchResult) -> Facets:
    """Backend facet pairs -> named lists; places and entities get names and coordinates."""
    lookup = _gazetteer_lookup()
    known: dict[str, dict[str, Any]] = {}
    for hit in result.hits:
        for ent in hit.entities:
            known.setdefault(str(ent.get("id")), ent)
    out: dict[str, list[FacetValue]] = {}
    for name, pairs in result.facets.items():
        api_name = FACET_NAMES.get(name)
        if api_name is None:
            continue
        values = []
        for value, count in pairs:
            fv = FacetValue(value=value, count=count)
            if name in ("place", "entity"):
                ent = known.get(value)
                entry = lookup(value) if lookup else None
                if entry is not None:
                    fv.name, fv.lat, fv.lon = entry.name, entry.lat, entry.lon
                elif ent is not None:
                    fv.name, fv.lat, fv.lon = ent.get("name"), ent.get("lat"), ent.get("lon")
            values.append(fv)
        if name == "day":
            values.sort(key=lambda v: v.value)
        out[api_name] = values
    return Facets(**out)


def histogram_body(result: SearchResult) -> Histogram:
    """The per-day facet laid on a time axis (see ``api.histogram``)."""
    bucket, bins = time_bins(result.facets.get("day", []))
    return Histogram(
        bucket=bucket,
        bins=[
            HistogramBin(
                start=b.start.isoformat(), end=b.end.isoformat(), count=b.count, label=b.label
            )
            for b in bins
        ],
    )


def run_search(res: Resources, f: Filters, **extra: Any) -> SearchResult:
    with res.pool.backend() as backend:
        return backend.search(f.request(**extra))


@router.get(
    "/api/search",
    response_model=SearchResponse,
    response_model_exclude_unset=True,
    responses={401: {"model": ErrorBody}, 422: {"model": ErrorBody}, 503: {"model": ErrorBody}},
    summary="Full-text search with filters, facets and story collapsing",
)
def search(
    request: Request,
    f: Annotated[Filters, Depends(filters)],
    sort: Annotated[Sort, Query(description="relevance or date (newest first)")] = "relevance",
    size: Annotated[int, Query(ge=1, le=100, description="hits per page")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=2000, description="next_cursor of the previous page")
    ] = None,
    collapse: Annotated[
        bool, Query(description="one hit per story; 'collapsed' counts the others")
    ] = False,
    facets: Annotated[bool, Query(description="count sources, languages, events, ...")] = True,
) -> SearchResponse:
    from pipeline.search.fieldcheck import check_query_fields

    res: Resources = request.app.state.resources
    warnings = check_query_fields(f.q) if f.q else []  # an unknown event id: 422
    result = run_search(
        res, f, sort=sort, limit=size, cursor=cursor or None, collapse=collapse, facets=facets
    )
    body = result.record()
    for hit, rec in zip(result.hits, body["hits"], strict=True):
        rec["collapsed"] = hit.collapsed
    articles, stories = result.total, None
    if collapse and not cursor:
        # The page shows both ("18 articles in 17 stories"): the facets count articles.
        stories = result.total
        articles = run_search(res, f, limit=1, collapse=False, facets=False).total
    return SearchResponse(
        total=result.total,
        articles=articles,
        stories=stories,
        hits=body["hits"],
        facets=facets_body(result) if facets else None,
        histogram=histogram_body(result) if facets else None,
        warnings=warnings,
        next_cursor=result.next_cursor,
    )
