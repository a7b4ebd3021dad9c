"""Every error answer is JSON with an ``error`` key a person can act on (legacy clients read it)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from altgen.errors import (
    DeadlineExceeded,
    ImageRejected,
    ModelBusy,
    ModelFailed,
    RequestRejected,
    ServiceBusy,
)
from altgen.logs import request_id_var


def error_response(status: int, message: str, headers: dict[str, str] | None = None, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _describe_validation_error(error: dict, received: set[str]) -> str:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "header")]
    if error.get("type") == "json_invalid":  # its location is a character position, not a field
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'invalid')} at character {location[0] if location else '?'})"
    field = ".".join(location) or "request"
    message = f"field '{field}': {error.get('msg', 'invalid')}"
    if error.get("type") == "missing" and location:
        if location[-1] in received:  # a form field sent empty is "missing" to the form parser
            return f"field '{field}': must not be empty"
        similar = sorted(name for name in received if name.lower() == location[-1].lower())
        if similar:
            message += f" (received '{similar[0]}': field names are case-sensitive)"
    return message


async def _received_fields(request: Request) -> set[str]:
    """The form fields the request sent (the parsed form is cached by then), for better messages."""
    if not request.headers.get("content-type", "").startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return set()
    try:
        return set((await request.form()).keys())
    except Exception:  # noqa: BLE001 - only a hint for the message
        return set()


def _wants_json_but_got(request: Request, errors: list[dict]) -> str | None:
    """The content type of a form (or other) body sent to a route that takes a JSON object."""
    content_type = request.headers.get("content-type", "").split(";")[0]
    whole_body = any(tuple(e.get("loc", ())) == ("body",) for e in errors)
    return content_type or "no content type" if whole_body and content_type != "application/json" else None


def _form_limit(exc: StarletteHTTPException) -> tuple[int, str] | None:
    """A form that broke one of the form parser's limits: 413, saying which limit (its 400 says little)."""
    detail, causes, cause = str(exc.detail), [], exc
    while (cause := cause.__cause__ or cause.__context__) is not None and len(causes) < 10:
        causes.append(str(cause))
    if any("Maximum header size exceeded" in text for text in causes):
        return 413, "a part's header (such as a file name) is longer than the form parser's 4 KB limit"
    if detail.startswith(("Part exceeded maximum size", "Field exceeded maximum size")):
        return 413, f"a text field is too large: {detail} (only 'data' of /getBestPictures may be larger, up to 64 MB)"
    if detail.startswith(("Too many files", "Too many fields")):
        return 413, detail
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestRejected)
    async def _api_error(_request: Request, exc: RequestRejected) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(ImageRejected)
    async def _image_rejected(_request: Request, exc: ImageRejected) -> JSONResponse:
        return error_response(exc.status, str(exc), file=exc.name)

    @app.exception_handler(ServiceBusy)
    async def _busy(request: Request, exc: ServiceBusy) -> JSONResponse:
        if isinstance(exc, ModelBusy):  # a full queue was counted where it was refused
            request.app.state.service.metrics.rejected.labels("model_busy").inc()
        return error_response(503, str(exc), {"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(DeadlineExceeded)
    async def _deadline(request: Request, exc: DeadlineExceeded) -> JSONResponse:
        request.app.state.service.metrics.rejected.labels("deadline").inc()
        return error_response(504, str(exc))

    @app.exception_handler(ModelFailed)
    async def _model_failed(_request: Request, exc: ModelFailed) -> JSONResponse:
        request_id = request_id_var.get()
        return error_response(500, f"{exc}; the details are logged under request id {request_id}", request_id=request_id)

    @app.exception_handler(RecursionError)
    async def _too_deep(_request: Request, _exc: RecursionError) -> JSONResponse:
        # json.loads of thousands of nested brackets, in a form field or a JSON body
        return error_response(422, "the JSON is nested too deeply; send a flat list of objects")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        sent = _wants_json_but_got(request, errors)
        if sent:
            return error_response(415, f"send a JSON object with Content-Type: application/json, not {sent}")
        received = await _received_fields(request)
        message = "; ".join(_describe_validation_error(e, received) for e in errors)
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors]
        return error_response(422, message, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status, message = _form_limit(exc) or (exc.status_code, str(exc.detail))
        if message == "There was an error parsing the body":  # FastAPI's words for a body it cannot read
            message = "the request body could not be read as JSON (malformed, or nested too deeply)"
        return error_response(status, message, getattr(exc, "headers", None))
