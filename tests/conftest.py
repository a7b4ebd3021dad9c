"""Shared fixtures: the real embedded models (loaded once), sample photos, and app clients."""

from __future__ import annotations

import io
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import httpx
import numpy as np
import pytest
from asgi_lifespan import LifespanManager
from PIL import Image
from skimage import data as skdata

# Tests keep embeddings in memory unless a test gives a cache file of its own (and so do the servers they start).
os.environ.setdefault("ALTGEN_CACHE_PATH", "none")

from altgen.api.app import create_app  # noqa: E402
from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner  # noqa: E402
from altgen.composition import load_ranker  # noqa: E402
from altgen.ranking.ranker import Ranker  # noqa: E402
from altgen.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def captioner() -> ImageNetCaptioner:
    return ImageNetCaptioner(device="cpu")


@pytest.fixture(scope="session")
def ranker() -> Ranker:
    """The default ranker (the packaged encoders), loaded once."""
    return load_ranker(Settings())


def encode(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    """Real photos shipped with scikit-image, as JPEG bytes; the embedded model recognises these."""
    return {
        "cat": encode(Image.fromarray(skdata.chelsea())),
        "coffee": encode(Image.fromarray(skdata.coffee())),
        "camera": encode(Image.fromarray(skdata.camera()).convert("RGB")),
    }


# What the embedded model says of each photo above (checked against the real weights).
EXPECTED_WORD = {"cat": "cat", "coffee": "espresso", "camera": "tripod"}


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory) -> Path:
    """A folder of three photos as files, for the clients and CLI that read from disk."""
    folder = tmp_path_factory.mktemp("Images")
    Image.fromarray(skdata.chelsea()).save(folder / "chelsea.jpg")
    Image.fromarray(skdata.coffee()).save(folder / "coffee.png")
    Image.fromarray(skdata.camera()).save(folder / "camera.jpg")
    return folder


@pytest.fixture
def make_client(captioner, ranker):
    """Builds an app with the given settings on the shared real models and yields an httpx client."""

    @asynccontextmanager
    async def factory(captioner_factory=None, **overrides) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(devices=overrides.pop("devices", "cpu"), **overrides)
        app = create_app(
            settings,
            captioner_factory=captioner_factory or (lambda _settings, _device: captioner),
            ranker_factory=lambda _settings: ranker,
        )
        async with LifespanManager(app, startup_timeout=60) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://altgen.test", timeout=60) as client:
                client.app = app  # tests read the service's metrics and state through this
                yield client

    return factory


@pytest.fixture
async def client(make_client):
    async with make_client() as client:
        yield client


def metric(client: httpx.AsyncClient, name: str, **labels) -> float:
    value = client.app.state.service.metrics.registry.get_sample_value(name, labels or None)
    return 0.0 if value is None else value


def noise_image(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    return Image.fromarray(array.squeeze() if channels == 1 else array)
