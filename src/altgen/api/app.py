"""Builds the FastAPI app around one ``AltTextService``; tests build their own with tiny models."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

import altgen
from altgen.api import health, legacy, v1
from altgen.api.errors import error_response, install_error_handlers
from altgen.model.loading import load_captioner, load_embedder
from altgen.service import AltTextService, CaptionerFactory, EmbedderFactory
from altgen.settings import Settings


def create_app(
    settings: Settings | None = None,
    captioner_factory: CaptionerFactory = load_captioner,
    embedder_factory: EmbedderFactory = load_embedder,
) -> FastAPI:
    settings = settings or Settings()
    service = AltTextService(settings, captioner_factory, embedder_factory)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="altgen",
        version=altgen.__version__,
        description="Alt text for photos from a vision model, and photo search by request (Korean or English).",
        lifespan=lifespan,
    )
    app.state.service = service
    install_error_handlers(app)

    @app.middleware("http")
    async def limit_request_size(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_request_bytes:
            service.metrics.rejected.labels("too_large").inc()
            return error_response(
                413, f"the request body is {length} bytes; the limit is {settings.max_request_bytes} bytes"
            )
        return await call_next(request)

    app.include_router(legacy.router)
    app.include_router(v1.router)
    app.include_router(health.router)
    return app
