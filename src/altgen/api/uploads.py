"""How an uploaded file part is named in messages."""

from __future__ import annotations

from starlette.datastructures import UploadFile


def upload_label(field: str, upload: UploadFile) -> str:
    return f"{field} ({upload.filename})" if upload.filename else field
