"""A vision-language model behind an OpenAI-compatible engine (``ALTGEN_MODEL=openai:<base url>#<model>``).

The engine batches requests itself (continuous batching, paged attention), so each photo is its own
``/chat/completions`` request and the service keeps up to ``engine_concurrency`` of them in flight. What stays
altgen's own: the alt-text prompt for the photo's language and detail, greedy decoding within altgen's token
budgets, the cleanup of the answer, the request's deadline, and back-pressure (the engine's 429/503 become 503).
"""

from __future__ import annotations

import base64
import io
import logging
import time
from dataclasses import replace
from typing import Sequence

from PIL import Image

from altgen.captioning.contract import Captioner, CaptionRequest
from altgen.engines.openai_engine import Engine, EngineError
from altgen.model.vlm.alt_text import clean_alt_text
from altgen.model.vlm.prompts import PROMPTS
from altgen.settings import EngineAddress

log = logging.getLogger(__name__)

# The photo is already resized by the /config rule; JPEG at this quality keeps what a model sees and sends a
# tenth of PNG's bytes.
JPEG_QUALITY = 95


def data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def served_models(response) -> set[str]:
    """The model names in an engine's /models answer (none when it is not the OpenAI shape)."""
    try:
        return {str(entry["id"]) for entry in response.json()["data"]}
    except (ValueError, KeyError, TypeError):
        return set()


class RemoteCaptioner(Captioner):
    def __init__(
        self,
        address: EngineAddress,
        *,
        api_key: str | None,
        concurrency: int,
        max_new_tokens: int,
        max_chars: int,
        long_max_new_tokens: int,
        long_max_chars: int,
        timeout_s: float,
    ):
        self.name = address.model
        self.device = "engine"
        self.parallel_requests = concurrency
        self.engine = Engine(address, api_key, connections=concurrency)
        self.new_tokens = {"alt": max_new_tokens, "long": long_max_new_tokens}
        self.max_chars = {"alt": max_chars, "long": long_max_chars}
        self.timeout_s = timeout_s  # for a photo without a deadline of its own
        log.info("captioning with %s at %s, up to %d photos at once", address.model, address.base_url, concurrency)

    def preprocess(self, request: CaptionRequest) -> CaptionRequest:
        """The photo as a data URL, encoded on a request thread."""
        return replace(request, features=data_url(request.image))

    def caption(self, requests: Sequence[CaptionRequest]) -> list[str]:
        return [self._caption(request) for request in requests]

    def _caption(self, request: CaptionRequest) -> str:
        content = [
            {"type": "image_url", "image_url": {"url": request.features or data_url(request.image)}},
            {"type": "text", "text": PROMPTS[request.language, request.detail]},
        ]
        body = {
            "model": self.engine.address.model,
            "messages": [{"role": "user", "content": content}],
            "temperature": 0,  # greedy: the same photo gets the same text
            "max_tokens": self.new_tokens[request.detail],
        }
        answer = self.engine.post("/chat/completions", body, self._time_left(request))
        try:
            text = answer["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise EngineError(f"an answer without choices[0].message.content: {str(answer)[:300]}") from exc
        return clean_alt_text(
            text, self.max_chars[request.detail], keep_paragraphs=request.detail == "long", language=request.language
        )

    def _time_left(self, request: CaptionRequest) -> float:
        """The engine's call ends with the request's deadline, so a slot is not held past it."""
        if request.deadline is None:
            return self.timeout_s
        left = request.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed before the engine was asked")
        return left

    def reachable(self) -> bool:
        response = self.engine.models()
        return response is not None and response.status_code < 500 and response.status_code not in (401, 403)

    def warm_up(self) -> None:
        """Says at start-up what would fail every photo (base URL, key, model name). Nothing here stops the
        service: an engine may start after altgen (/ready says no until it answers)."""
        address, response = self.engine.address, self.engine.models()
        if response is None:
            return
        if response.status_code in (401, 403):
            log.error("the engine at %s refuses the key (%d): set ALTGEN_ENGINE_API_KEY", address.base_url, response.status_code)
        elif response.status_code == 404:
            log.warning("%s/models is not found: is the base URL the engine's OpenAI base (usually ending in /v1)?", address.base_url)
        elif response.is_success and address.model not in (served := served_models(response)) and served:
            log.warning("the engine at %s does not list %r; it serves %s", address.base_url, address.model, sorted(served))
