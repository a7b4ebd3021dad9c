"""An OpenAI-compatible inference engine (vLLM, SGLang, TGI, Ollama, `transformers serve`, Infinity, ...) as
altgen calls it: where it is (``openai:<base url>#<model>`` in a setting), one pooled HTTP client, and the
engine's failures said in altgen's terms (busy or down: 503 with Retry-After; too slow: the deadline's 504)."""

from __future__ import annotations

import logging
import math

import httpx

from altgen.errors import ModelBusy
from altgen.settings import EngineAddress

log = logging.getLogger(__name__)
# httpx logs every request at info: one line per photo would double the service's log.
logging.getLogger("httpx").setLevel(logging.WARNING)

# A connection that does not open within this is a host that is down, not a slow answer.
CONNECT_TIMEOUT_S = 5.0
# How long /ready's check waits for the engine to answer.
CHECK_TIMEOUT_S = 2.0
# Answers that mean "not now" (overloaded, starting, or a gateway in front of it that cannot reach it).
BUSY_STATUSES = frozenset({429, 502, 503, 504})
# What a client is told to wait when the engine cannot be reached at all (a restart takes a few seconds).
DOWN_RETRY_AFTER_S = 5


class EngineError(RuntimeError):
    """The engine refused or failed a request for a reason of its own; the text goes to the log, not to clients."""


def retry_after_s(response: httpx.Response, default: int = 1) -> int:
    """The engine's Retry-After in whole seconds (the delay form; an HTTP date, rare from engines, gets the default)."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return default
    return max(1, math.ceil(seconds)) if math.isfinite(seconds) else default


class Engine:
    """One pooled HTTP/1.1 client for one engine, shared by every thread that calls it (httpx's is thread-safe).
    The API key travels only in the Authorization header: it is in no URL, name or message."""

    def __init__(self, address: EngineAddress, api_key: str | None, connections: int):
        self.address = address
        # One connection more than the callers: /ready's check must not wait behind long generations.
        pool = connections + 1
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        )

    def post(self, path: str, body: dict, timeout_s: float) -> dict:
        """The engine's JSON answer; raises ModelBusy (busy or down), TimeoutError (no answer in time) or EngineError."""
        url = self.address.base_url + path
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
        try:
            response = self._client.post(url, json=body, timeout=timeout)
        except httpx.ConnectTimeout as exc:
            raise self._down(exc) from exc
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"{url} did not answer within {timeout_s:.1f} s") from exc
        except httpx.TransportError as exc:  # refused, reset, closed mid-answer: the engine is down or restarting
            raise self._down(exc) from exc
        if response.status_code in BUSY_STATUSES:
            log.debug("engine %s answered %d: %s", self.address.base_url, response.status_code, response.text[:200])
            raise ModelBusy(f"the model's engine is busy ({response.status_code}); retry later", retry_after_s(response))
        if response.status_code >= 400:
            raise EngineError(f"{url} answered {response.status_code}: {response.text[:300]}")
        try:
            return response.json()
        except ValueError as exc:
            raise EngineError(f"{url} answered with something that is not JSON: {response.text[:300]!r}") from exc

    def _down(self, exc: Exception) -> ModelBusy:
        log.debug("engine %s is not reachable: %r", self.address.base_url, exc)  # the service logs the change once
        return ModelBusy("the model's engine is not reachable; retry later", DOWN_RETRY_AFTER_S)

    def models(self) -> httpx.Response | None:
        """The engine's model list (GET <base>/models), or None when nothing answers within the check's time."""
        try:
            return self._client.get(self.address.base_url + "/models", timeout=CHECK_TIMEOUT_S)
        except httpx.HTTPError:
            return None
