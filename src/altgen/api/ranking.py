"""Limits and checks shared by both ranking routes, then the core ranking call."""

from __future__ import annotations

from typing import Sequence

from altgen.errors import RequestRejected, TooMuchNewText
from altgen.service import AltTextService, Found


async def checked_rank(
    service: AltTextService, query: str, descriptions: Sequence[str], *, query_field: str, items_field: str
) -> list[Found]:
    settings = service.settings
    if service.is_blank(query):
        raise RequestRejected(422, f"field '{query_field}': the request text is empty")
    if len(query) > settings.max_text_chars:
        raise RequestRejected(413, f"field '{query_field}': {len(query)} characters; the limit is {settings.max_text_chars}")
    if not descriptions:
        raise RequestRejected(422, f"field '{items_field}': no candidates to rank")
    if len(descriptions) > settings.max_candidates:
        raise RequestRejected(
            413, f"field '{items_field}': {len(descriptions)} candidates; the limit is {settings.max_candidates}"
        )
    for i, text in enumerate(descriptions):
        if len(text) > settings.max_text_chars:
            raise RequestRejected(
                413, f"field '{items_field}': item {i} has {len(text)} characters; the limit is {settings.max_text_chars}"
            )
    try:
        return await service.rank(query, descriptions)
    except TooMuchNewText as exc:
        raise RequestRejected(exc.status, f"field '{items_field}': {exc.message}") from None
