"""Turns uploaded file parts into descriptions: the path every describe route shares."""

from __future__ import annotations

import asyncio
from typing import Sequence

from starlette.datastructures import UploadFile

from altgen.api.errors import ApiError
from altgen.images import ImageRejected
from altgen.model.base import Detail, Language
from altgen.captioning import DeadlineExceeded
from altgen.service import AltTextService, Description
from altgen.worker.batching import QueueFull


def upload_label(field: str, upload: UploadFile) -> str:
    return f"{field} ({upload.filename})" if upload.filename else field


async def describe_uploads(
    service: AltTextService,
    uploads: Sequence[tuple[str, UploadFile]],
    language: Language = "en",
    detail: Detail = "alt",
) -> list[Description]:
    """``uploads`` are (label for messages, file) pairs in the order the answer must keep."""
    settings = service.settings
    if not uploads:
        raise ApiError(422, "the request has no image file; send at least one file part")
    if len(uploads) > settings.max_files_per_request:
        raise ApiError(
            413, f"the request has {len(uploads)} image files; the limit is {settings.max_files_per_request} per request"
        )
    for label, upload in uploads:
        if upload.size is not None and upload.size > settings.max_file_bytes:
            raise ImageRejected(
                label, f"the file is {upload.size} bytes; the limit is {settings.max_file_bytes} bytes", status=413
            )
    # Refuse before the costly decode when the queue cannot take the whole request.
    free = service.free_slots()
    if len(uploads) > free:
        raise QueueFull(len(uploads), free, retry_after_s=1)

    # The deadline covers decoding too: a request of many huge photos answers 504 on time, and its
    # photos still waiting for the decode budget are never decoded.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.request_timeout_s
    resize = service.resize  # one rule for every photo of this request, even if /config changes meanwhile
    contents = [await upload.read() for _label, upload in uploads]
    try:
        prepared = await asyncio.wait_for(
            asyncio.gather(
                *(service.prepare(label, data, resize) for (label, _upload), data in zip(uploads, contents)),
                return_exceptions=True,
            ),
            settings.request_timeout_s,
        )
    except (asyncio.TimeoutError, TimeoutError):
        raise DeadlineExceeded(f"no answer within the {settings.request_timeout_s:g} s deadline (decoding the photos)") from None
    rejected = [p for p in prepared if isinstance(p, ImageRejected)]
    if len(rejected) == 1:
        raise rejected[0]
    if rejected:
        raise ApiError(max(r.status for r in rejected), "; ".join(str(r) for r in rejected))
    for outcome in prepared:
        if isinstance(outcome, BaseException):
            raise outcome
    return await service.describe(prepared, language, detail, timeout_s=deadline - loop.time())
