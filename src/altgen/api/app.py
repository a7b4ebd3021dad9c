"""Builds the FastAPI app around one ``AltTextService``; tests build their own with tiny models."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.formparsers import MultiPartParser

import altgen
from altgen.api import health, legacy, v1
from altgen.api.auth import ApiKeyAuth
from altgen.api.errors import install_error_handlers
from altgen.api.middleware import (
    AdmissionGate,
    BodyLimit,
    CancelOnDisconnect,
    OpsOnly,
    RequestId,
)
from altgen.api.ui import install_page
from altgen.composition import (
    CaptionerFactory,
    RankerFactory,
    RemoteCaptioningFactory,
    build_service,
)
from altgen.errors import ModelUnavailable
from altgen.service import ResizeStore
from altgen.settings import Settings

log = logging.getLogger(__name__)

DESCRIBE_PATHS = frozenset({"/getAltText", "/getAltTexts", "/getAltText_time", "/v1/describe"})
DOCS_ASSETS = "/docs-assets"


def add_api_key_security(app: FastAPI) -> None:
    """Declares the API key in the OpenAPI schema, so that /docs has an Authorize button that sends it."""
    make_schema = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = make_schema()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key from ALTGEN_API_KEYS."},
            }
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings | None = None,
    captioner_factory: CaptionerFactory | None = None,
    ranker_factory: RankerFactory | None = None,
    *,
    remote_captioning: RemoteCaptioningFactory | None = None,
    resize_store: ResizeStore | None = None,
) -> FastAPI:
    """``remote_captioning`` and ``resize_store``: where photos are described and /config is shared when not in
    this process alone (a Ray cluster, altgen.distributed); by default the models run here."""
    settings = settings or Settings()
    # An upload is read whole into memory to be decoded anyway: parts kept in memory up to the largest accepted
    # file, not spooled past 1 MB to a temporary file in one thread hop per 64 KB (7% of a phone photo's cost).
    MultiPartParser.spool_max_size = settings.max_file_bytes
    service = build_service(
        settings,
        captioner_factory=captioner_factory,
        ranker_factory=ranker_factory,
        remote_captioning=remote_captioning,
        resize_store=resize_store,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        try:
            await service.start()
        except ModelUnavailable as exc:  # said plainly; `altgen serve` hides the traceback that follows
            log.error("cannot start: %s", exc)
            raise
        try:
            yield
        finally:
            await service.stop()

    # /docs and /redoc serve Swagger UI and ReDoc from files in the fastapi-offline wheel, not a CDN.
    app = FastAPIOffline(
        title="altgen",
        version=altgen.__version__,
        description="Alt text for photos from a vision model, and photo search by request (Korean or English). "
        "With API keys set, give your key through Authorize on /docs.",
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
    )
    if settings.api_key_list() or settings.admin_key:
        add_api_key_security(app)
    app.state.service = service
    install_error_handlers(app)

    # Added innermost first: a request meets RequestId, OpsOnly, ApiKeyAuth, BodyLimit, AdmissionGate, CancelOnDisconnect.
    app.add_middleware(CancelOnDisconnect, metrics=service.metrics)
    app.add_middleware(AdmissionGate, paths=DESCRIBE_PATHS, admission=service.admission)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes, metrics=service.metrics)
    app.add_middleware(
        ApiKeyAuth,
        api_keys=settings.api_key_list(),
        admin_key=settings.admin_key.get_secret_value() if settings.admin_key else None,
        metrics=service.metrics,
    )
    app.add_middleware(OpsOnly)
    app.add_middleware(RequestId)

    app.include_router(legacy.router)
    app.include_router(v1.router)
    app.include_router(health.router)
    if settings.ui:
        install_page(app)
    return app
