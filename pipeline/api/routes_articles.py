"""``GET /api/articles/{id}``: the article record, as ``show --json`` prints it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from pipeline.api.auth import read_access
from pipeline.api.models import ArticleRecord, ErrorBody
from pipeline.api.resources import Resources
from pipeline.errors import NotFound

router = APIRouter(tags=["articles"], dependencies=[Depends(read_access)])


@router.get(
    "/api/articles/{article_id}",
    response_model=ArticleRecord,
    response_model_exclude_unset=True,
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
    summary="One stored article: full text, events with evidence, entities",
)
def get_article(request: Request, article_id: str) -> ArticleRecord:
    res: Resources = request.app.state.resources
    article = res.store.get_article(article_id)
    if article is None:
        raise NotFound(f"no article with id {article_id!r} (ids come from /api/search)")
    return ArticleRecord(**article.record())
