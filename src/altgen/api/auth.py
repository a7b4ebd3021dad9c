"""Optional API keys: ``ALTGEN_API_KEYS`` guards every route but the health probes, the docs and the page's files;
``ALTGEN_ADMIN_KEY`` also guards changes to ``/config``. Keys are compared in constant time and never logged."""

from __future__ import annotations

import hashlib
import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from altgen.api.middleware import send_json_error
from altgen.metrics import Metrics

# The probes, the API's documentation and the try-it page's files (a person opens /docs or the page
# before they can give a key in it; the page's own API requests carry that key).
OPEN_PATHS = frozenset({"/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/"})
OPEN_PREFIXES = ("/docs-assets/", "/page/")


def _digest(key: str) -> bytes:
    # Hashing first gives equal-length inputs, so the comparison time says nothing about the key's length.
    return hashlib.sha256(key.encode()).digest()


def _matches_any(candidate: bytes, keys: list[bytes]) -> bool:
    results = [hmac.compare_digest(candidate, key) for key in keys]  # no early exit
    return any(results)


def presented_key(scope: Scope) -> str | None:
    headers = dict(scope["headers"])
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return api_key or None


class ApiKeyAuth:
    def __init__(self, app: ASGIApp, api_keys: list[str], admin_key: str | None, metrics: Metrics):
        self.app = app
        self.api_keys = [_digest(k) for k in api_keys]
        self.admin_key = _digest(admin_key) if admin_key else None
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        open_path = path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)
        if scope["type"] != "http" or open_path or not (self.api_keys or self.admin_key):
            await self.app(scope, receive, send)
            return
        key = presented_key(scope)
        digest = _digest(key) if key else None
        is_admin = bool(digest and self.admin_key and hmac.compare_digest(digest, self.admin_key))
        if self.api_keys and not (is_admin or (digest and _matches_any(digest, self.api_keys))):
            self.metrics.rejected.labels("unauthorized").inc()
            await send_json_error(
                send, 401, "a valid API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        if self.admin_key and scope["path"] == "/config" and scope["method"] != "GET" and not is_admin:
            self.metrics.rejected.labels("forbidden").inc()
            await send_json_error(send, 403, "changing /config needs the admin key (ALTGEN_ADMIN_KEY)")
            return
        await self.app(scope, receive, send)
