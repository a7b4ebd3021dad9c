"""Limits and checks shared by both ranking routes, then the core ranking call."""

from __future__ import annotations

from typing import Sequence

from altgen.api.errors import ApiError
from altgen.ranking import Ranked, normalise_text
from altgen.service import AltTextService


async def checked_rank(
    service: AltTextService, query: str, descriptions: Sequence[str], *, query_field: str, items_field: str
) -> list[Ranked]:
    settings = service.settings
    if not normalise_text(query):
        raise ApiError(422, f"field '{query_field}': the request text is empty")
    if len(query) > settings.max_text_chars:
        raise ApiError(413, f"field '{query_field}': {len(query)} characters; the limit is {settings.max_text_chars}")
    if not descriptions:
        raise ApiError(422, f"field '{items_field}': no candidates to rank")
    if len(descriptions) > settings.max_candidates:
        raise ApiError(
            413, f"field '{items_field}': {len(descriptions)} candidates; the limit is {settings.max_candidates}"
        )
    for i, text in enumerate(descriptions):
        if len(text) > settings.max_text_chars:
            raise ApiError(
                413, f"field '{items_field}': item {i} has {len(text)} characters; the limit is {settings.max_text_chars}"
            )
    return await service.rank(query, descriptions)
