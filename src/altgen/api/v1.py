"""The typed v1 API; the legacy routes call the same core functions."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from altgen.api.ranking import checked_rank
from altgen.api.schemas import (
    ERROR_RESPONSES,
    DescribedImage,
    DescribeResponse,
    RankedCandidate,
    RecommendRequest,
    RecommendResponse,
    Timings,
)
from altgen.api.uploads import upload_label
from altgen.types import Detail, Language

router = APIRouter(prefix="/v1", tags=["v1"], responses=ERROR_RESPONSES)


@router.post("/describe", response_model=DescribeResponse, summary="Describe one or more photos")
async def describe(
    request: Request,
    images: Annotated[list[UploadFile], File(description="One or more photos, in the order to answer.")],
    lang: Annotated[Language, Form(description="Language of the descriptions: en or ko.")] = "en",
    detail: Annotated[
        Detail,
        Form(description="alt: one or two sentences for a screen reader (default); long: a fuller description."),
    ] = "alt",
) -> DescribeResponse:
    started = time.perf_counter()
    service = request.app.state.service
    described = await service.describe_uploads([(upload_label("images", image), image) for image in images], lang, detail)
    total = time.perf_counter() - started
    return DescribeResponse(
        model=service.model_name,
        results=[
            DescribedImage(
                name=upload.filename or f"image{i}",
                sha256=d.image.sha256,
                description=d.text,
                original_size=d.image.original_size,
                processed_size=d.image.processed_size,
                timings=Timings(queued_s=d.queued_s, inference_s=d.inference_s, total_s=total),
            )
            for i, (upload, d) in enumerate(zip(images, described), start=1)
        ],
    )


@router.post("/recommend", response_model=RecommendResponse, summary="Rank photo descriptions for a request")
async def recommend(request: Request, body: RecommendRequest) -> RecommendResponse:
    service = request.app.state.service
    ranked = await checked_rank(
        service,
        body.query,
        [c.description for c in body.candidates],
        query_field="query",
        items_field="candidates",
    )
    return RecommendResponse(
        query=body.query,
        match=ranked[0].match,
        results=[
            RankedCandidate(
                id=body.candidates[r.index].id,
                description=body.candidates[r.index].description,
                score=r.score,
                relevance=r.relevance,
                match=r.match,
            )
            for r in ranked[: body.top_k]
        ],
    )
