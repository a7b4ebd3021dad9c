"""The old Flask service's five routes, with their exact request and response shapes (docs/api.md's
"Legacy API" section is the contract; tests/test_legacy_api.py and tests/test_end_to_end.py hold it).

Thin adapters: each parses the old multipart form, calls the same core as the v1 API and
re-shapes the answer. Errors are real 4xx/5xx codes whose JSON body still has an ``error`` key.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, ValidationError
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from altgen.api.ranking import checked_rank
from altgen.api.schemas import ERROR_RESPONSES
from altgen.api.uploads import upload_label
from altgen.errors import RequestRejected
from altgen.service import AltTextService
from altgen.settings import RESIZE_DEFAULTS, ResizeConfig

router = APIRouter(tags=["legacy"], responses=ERROR_RESPONSES)


def _readable_text(value: str) -> str:
    """Refuses text that could not be decoded (U+FFFD from bad percent-escapes) or carries control characters."""
    if "\ufffd" in value or any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("must be UTF-8 text without control characters")
    return value


def as_sent(value: str) -> str:
    """UTF-8 bytes that a client put unescaped in a url-encoded body (``curl -d 'userText=고양이'``) reach
    us decoded as Latin-1; read them as the UTF-8 they are (text that is really Latin-1 stays)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


# Multipart text that is not UTF-8 is read as Latin-1 (the form parser's fallback), so it is echoed, not lost.
Text = Annotated[str, AfterValidator(_readable_text)]

LEGACY_PAIR_EXAMPLE = [{"Hash": "apple.jpg", "Description": "Image may contain: a Granny Smith apple.", "Id": "Sagol"}]


def _service(request: Request) -> AltTextService:
    return request.app.state.service


def _pair(hash_: str, description: str, id_: str) -> dict[str, str]:
    # Key order is part of the contract: Hash, Description, Id.
    return {"Hash": hash_, "Description": description, "Id": id_}


@router.post(
    "/getAltText",
    summary="Describe one photo (legacy)",
    responses={200: {"content": {"application/json": {"example": LEGACY_PAIR_EXAMPLE}}}},
)
async def get_alt_text(
    request: Request,
    Id: Annotated[Text, Form(description="Caller's id, echoed back.")],
    Hash: Annotated[Text, Form(description="Caller's name for the photo, echoed back.")],
    Image: Annotated[UploadFile, File(description="The photo.")],
) -> JSONResponse:
    [described] = await _service(request).describe_uploads([(upload_label("Image", Image), Image)])
    return JSONResponse([_pair(Hash, described.text, Id)])


@router.post(
    "/getAltText_time",
    summary="Describe one photo, with sizes and timing (legacy, for testing)",
)
async def get_alt_text_time(
    request: Request,
    Id: Annotated[Text, Form()],
    Hash: Annotated[Text, Form()],
    Image: Annotated[UploadFile, File()],
) -> JSONResponse:
    started = time.perf_counter()
    [described] = await _service(request).describe_uploads([(upload_label("Image", Image), Image)])
    item: dict[str, Any] = _pair(Hash, described.text, Id)
    item["original_size"] = list(described.image.original_size)
    item["resized"] = list(described.image.processed_size)
    item["duration"] = time.perf_counter() - started
    return JSONResponse([item])


GET_ALT_TEXTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["Id", "Hash"],
                    "properties": {
                        "Id": {"type": "string", "description": "Caller's id, echoed in every item."},
                        "Hash": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "One name per photo, repeated field, same order as the files.",
                        },
                        "Image1": {"type": "string", "format": "binary", "description": "Photos under any field names."},
                    },
                }
            }
        },
    }
}


@router.post(
    "/getAltTexts",
    summary="Describe many photos in one request (legacy)",
    openapi_extra=GET_ALT_TEXTS_BODY,
    responses={200: {"content": {"application/json": {"example": LEGACY_PAIR_EXAMPLE * 2}}}},
)
async def get_alt_texts(request: Request) -> JSONResponse:
    service = _service(request)
    limit = service.settings.max_files_per_request
    try:
        form = await request.form(max_files=limit, max_fields=limit + 100)
    except StarletteHTTPException as exc:
        status = 413 if "Too many" in str(exc.detail) else exc.status_code
        raise RequestRejected(status, f"{exc.detail} (at most {limit} image files per request)") from None
    id_ = form.get("Id")
    if not isinstance(id_, str):
        raise RequestRejected(422, "field 'Id': a text field is required")
    hashes = form.getlist("Hash")
    if any(not isinstance(h, str) for h in hashes):
        raise RequestRejected(422, "field 'Hash': must be text, not a file")
    for field, value in [("Id", id_), *(("Hash", h) for h in hashes)]:
        try:
            _readable_text(value)
        except ValueError as exc:
            raise RequestRejected(422, f"field '{field}': {exc}") from None
    uploads = [(key, value) for key, value in form.multi_items() if isinstance(value, StarletteUploadFile)]
    if len(hashes) != len(uploads):
        raise RequestRejected(
            422,
            f"got {len(hashes)} 'Hash' value(s) but {len(uploads)} image file(s); "
            "send one Hash per image, in the same order",
        )
    labelled = [(f"{upload_label(key, upload)} for Hash '{h}'", upload) for (key, upload), h in zip(uploads, hashes)]
    described = await service.describe_uploads(labelled)
    return JSONResponse([_pair(h, d.text, id_) for h, d in zip(hashes, described)])


def _parse_pairs(raw: str) -> list[dict[str, Any]]:
    try:
        pairs = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestRejected(422, f"field 'data': not valid JSON ({exc.msg} at position {exc.pos})") from None
    except RecursionError:
        raise RequestRejected(422, "field 'data': the JSON is nested too deeply; send a flat list of objects") from None
    if not isinstance(pairs, list):
        raise RequestRejected(422, "field 'data': must be a JSON list of {\"Hash\", \"Description\"} objects")
    if not pairs:
        raise RequestRejected(422, "field 'data': the list is empty; send at least one {\"Hash\", \"Description\"} object")
    for i, pair in enumerate(pairs):
        if not isinstance(pair, dict):
            raise RequestRejected(422, f"field 'data': item {i} must be an object with 'Hash' and 'Description'")
        for key in ("Hash", "Description"):
            if not isinstance(pair.get(key), str):
                raise RequestRejected(422, f"field 'data': item {i} needs a text '{key}'")
    return pairs


# The form parser allows 1 MB per text field by default; 'data' carries up to max_candidates descriptions
# (10,000 by default), so its limit is raised to what the body limit and max_candidates really allow.
BEST_PICTURES_FIELD_BYTES = 64 * 1024 * 1024


@router.post(
    "/getBestPictures",
    summary="Pick the photo whose description best matches a request (legacy)",
    form_limits={"max_part_size": BEST_PICTURES_FIELD_BYTES},
    responses={200: {"content": {"application/json": {"example": "hedgehog.jpg"}}}},
)
async def get_best_pictures(
    request: Request,
    userText: Annotated[Text, Form(description="The request, Korean or English.", examples=[" 고슴도치 사진을 찾아 줘."])],
    data: Annotated[Text, Form(description="JSON list of {Hash, Description, Id} from earlier calls.")],
) -> JSONResponse:
    pairs = _parse_pairs(data)
    service = _service(request)
    ranked = await checked_rank(
        service, as_sent(userText), [p["Description"] for p in pairs], query_field="userText", items_field="data"
    )
    # The answer is the best Hash as a JSON string: clients strip one character at each end.
    # When no photo is a good match the answer is "" (never an unrelated photo), flagged in a header.
    best = ranked[0]
    if not best.match:
        return JSONResponse("", headers={"X-Altgen-Match": "false"})
    return JSONResponse(pairs[best.index]["Hash"], headers={"X-Altgen-Match": "true"})


def _resize_response(config: ResizeConfig) -> JSONResponse:
    return JSONResponse({"halve_rate": config.halve_rate, "min_size": config.min_size})


@router.get("/config", summary="Current photo shrink settings")
async def read_config(request: Request) -> JSONResponse:
    return _resize_response(_service(request).resize)


CONFIG_FIELDS = {"halve": "halve_rate", "halve_rate": "halve_rate", "min_size": "min_size"}
# The rule's limits and defaults come from ResizeConfig, so the schema, the messages and the check agree.
RESIZE_FIELDS = ResizeConfig.model_json_schema()["properties"]
CONFIG_RULE = (
    f"halve=<{RESIZE_FIELDS['halve_rate']['exclusiveMinimum']:g}..{RESIZE_FIELDS['halve_rate']['maximum']:g}>"
    f"&min_size=<{RESIZE_FIELDS['min_size']['minimum']}..{RESIZE_FIELDS['min_size']['maximum']}>"
)
CONFIG_BODY = {
    "requestBody": {
        "content": {
            content_type: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "halve": {**RESIZE_FIELDS["halve_rate"], "description": "Scale factor per side."},
                        "halve_rate": {**RESIZE_FIELDS["halve_rate"], "description": "Same as halve: the name GET /config answers with."},
                        "min_size": RESIZE_FIELDS["min_size"],
                    },
                    "additionalProperties": False,
                }
            }
            for content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
        }
    }
}


@router.post(
    "/config",
    summary="Change the photo shrink settings (legacy)",
    description="Form fields `halve` (or `halve_rate`) and `min_size`; a field left out takes its default "
    f"({RESIZE_DEFAULTS.halve_rate:g} and {RESIZE_DEFAULTS.min_size}), as the old service did. Any error changes nothing.",
    openapi_extra=CONFIG_BODY,
    responses={200: {"content": {"application/json": {"example": {"halve_rate": 0.5, "min_size": 10}}}}},
)
async def write_config(request: Request) -> JSONResponse:
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    if body and not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise RequestRejected(
            415, "send /config as form fields (application/x-www-form-urlencoded or multipart/form-data): "
            f"{CONFIG_RULE}, not " + (content_type.split(";")[0] or "a body without a content type")
        )
    form = await request.form() if body else {}
    unknown = sorted(set(form.keys()) - set(CONFIG_FIELDS))
    if unknown:
        names = ", ".join(f"'{name}'" for name in unknown)
        raise RequestRejected(422, f"unknown field(s) {names}: /config takes 'halve' (or 'halve_rate') and 'min_size'")
    values: dict[str, Any] = {}
    for field, setting in CONFIG_FIELDS.items():
        for value in form.getlist(field) if form else []:
            if not isinstance(value, str):
                raise RequestRejected(422, f"field '{field}': must be a number, not a file")
            if setting in values and values[setting][1] != value:
                raise RequestRejected(422, f"field '{field}': gives another value than '{values[setting][0]}'; send one of them")
            values[setting] = (field, value)
    try:  # both values are checked before anything changes
        config = ResizeConfig(**{setting: value for setting, (_field, value) in values.items()})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = values.get(error["loc"][0], (error["loc"][0], None))[0]
        raise RequestRejected(422, f"field '{field}': {error['msg']}") from None
    await _service(request).change_resize(config)  # swapped whole
    return _resize_response(config)
