"""Typed request and response models of the v1 API (they are what /docs shows)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    error: str = Field(description="What was wrong and what is allowed.", examples=["field 'Hash': Field required"])


ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorBody, "description": meaning}
    for status, meaning in {
        400: "Malformed body (multipart or JSON that cannot be parsed).",
        401: "API key missing or wrong (when API keys are configured).",
        403: "Changing /config needs the admin key.",
        413: "Over a size or count limit.",
        415: "A file is not an accepted image format.",
        422: "A field is missing or breaks a rule.",
        500: "The model failed on this request's photo.",
        503: "Busy (queue full; see Retry-After) or not ready.",
        504: "No answer within the request deadline.",
    }.items()
}


class Timings(BaseModel):
    queued_s: float = Field(description="Time the photo waited for a model.")
    inference_s: float = Field(description="Duration of the batched model call that described it.")
    total_s: float = Field(description="From the start of this request's handling to the answer.")


class DescribedImage(BaseModel):
    name: str = Field(description="The client's file name for the photo.", examples=["chelsea.png"])
    sha256: str = Field(description="SHA-256 of the uploaded bytes.")
    description: str = Field(examples=["Image may contain: a cat."])
    original_size: tuple[int, int] = Field(description="Width and height as uploaded (after EXIF rotation).")
    processed_size: tuple[int, int] = Field(description="Width and height after the /config shrink rule.")
    timings: Timings


class DescribeResponse(BaseModel):
    model: str = Field(description="The captioner that wrote the descriptions.")
    results: list[DescribedImage]


class Candidate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, examples=["hedgehog.jpg"])
    description: str = Field(examples=["Image may contain: a porcupine."])


class RecommendRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "query": "고슴도치 사진을 찾아 줘.",
                    "candidates": [
                        {"id": "hedgehog.jpg", "description": "Image may contain: a porcupine."},
                        {"id": "cat.jpg", "description": "Image may contain: a cat."},
                    ],
                    "top_k": 1,
                }
            ]
        },
    )

    query: str = Field(min_length=1, description="What the user asks for, in Korean or English.")
    candidates: list[Candidate] = Field(min_length=1)
    top_k: int = Field(3, ge=1, description="How many of the best candidates to return.")


class RankedCandidate(BaseModel):
    id: str
    description: str
    score: float = Field(description="Ranking score, higher is better (relevance plus word overlap).")
    relevance: float = Field(
        description="How many standard deviations the description stands above a generic photo description "
        "for this request; comparable across requests."
    )
    match: bool = Field(description="relevance reaches the service's match threshold.")


class RecommendResponse(BaseModel):
    query: str
    match: bool = Field(description="False when no candidate is a good match (the best is still listed, flagged).")
    results: list[RankedCandidate] = Field(description="Best first.")
