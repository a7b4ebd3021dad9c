"""Pure-ASGI middleware, outermost first: request id + access log, body size cap, cancellation on disconnect.

Pure ASGI (not BaseHTTPMiddleware) so that each layer sees the raw ``receive`` channel: the body
cap counts bytes as they arrive, and the disconnect watcher can see the client leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections import OrderedDict

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from altgen.admission import Admission
from altgen.api.connections import OPS_ONLY
from altgen.errors import QueueFull
from altgen.logs import request_id_var
from altgen.metrics import Metrics

access_log = logging.getLogger("altgen.access")
log = logging.getLogger(__name__)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestId:
    """Takes a sane ``X-Request-ID`` from the client or makes one, returns it, and logs one JSON line per request."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            # uvicorn cancels what still runs when the shutdown grace ends: an answer a client can act on
            # (JSON 503, Retry-After, the request id), not its plain-text 500 and an ERROR traceback.
            if status:
                raise
            log.warning("the server is stopping: request cancelled at the end of the shutdown grace")
            body = json.dumps({"error": "the server is shutting down and could not finish this request in time; "
                               "send it again (to another replica, or to this one once it is back)",
                               "request_id": request_id}).encode()
            await send_with_id({"type": "http.response.start", "status": 503,
                                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                            (b"retry-after", b"1"), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # answered: the cancellation ends here
        except Exception:  # noqa: BLE001 - a bug must still answer JSON with the id, never a plain-text 500
            log.exception("unhandled error")
            if status:
                raise  # the answer had started: nothing to replace it with
            body = json.dumps({"error": f"internal error; the details are logged under request id {request_id}",
                               "request_id": request_id}).encode()
            await send_with_id({"type": "http.response.start", "status": 500,
                                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        finally:
            access_log.info(
                json.dumps(
                    {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status or 499,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    }
                )
            )
            request_id_var.reset(token)


class OpsOnly:
    """A connection let in on the room kept for operators (``altgen.api.connections``) may ask only
    /health, /ready and /metrics; anything else is 503 with Retry-After, and the connection closes."""

    PATHS = frozenset({"/health", "/ready", "/metrics"})

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and OPS_ONLY in scope.get("extensions", {}) and scope["path"] not in self.PATHS:
            await send_json_error(
                send, 503, "the server is at its connection limit; only /health, /ready and /metrics are answered now",
                [(b"retry-after", b"1"), (b"connection", b"close")],
            )
            return
        await self.app(scope, receive, send)


class RefusalPacer:
    """Remembers when each client address was last refused. A client that asks again before its Retry-After
    has passed ignores it: its request waits in line for a place until that Retry-After ends, and is refused
    only then. Waiting costs the server nothing, while refusing such a storm at full speed took the event
    loop from the admitted photos (under 512 connections that ignored Retry-After, goodput was about half
    of capacity), and refusals held without a line left the model idle until they were all answered."""

    def __init__(self, max_addresses: int = 100_000):
        self.max_addresses = max_addresses
        self._last: OrderedDict[str, float] = OrderedDict()  # address -> when its Retry-After ends, soonest first

    def pause_s(self, address: str, retry_after_s: float) -> float:
        """How long to hold this refusal: until the Retry-After of the address's last prompt refusal ends."""
        now = time.monotonic()
        ends = self._last.get(address)
        if ends is not None and ends > now:
            return ends - now
        self._last.pop(address, None)
        self._last[address] = now + retry_after_s
        while len(self._last) > self.max_addresses or next(iter(self._last.values())) <= now:
            self._last.popitem(last=False)  # ended windows, and the oldest past the bound
        return 0.0


class AdmissionGate:
    """Answers 503 + Retry-After to a describe request while the service is overloaded, before any multipart
    parsing or image decoding; a client back before its Retry-After waits in line first (``RefusalPacer``).
    The body is still drained (and discarded): closing a socket with unread data resets the connection, and
    the client would see a reset instead of the 503."""

    def __init__(self, app: ASGIApp, paths: frozenset[str], admission: Admission):
        self.app = app
        self.paths = paths
        self.admission = admission
        self.pacer = RefusalPacer()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        try:
            self.admission.check(1)
        except QueueFull as busy:
            refusal = busy
        else:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        pause = self.pacer.pause_s(client[0] if client else "", refusal.retry_after_s)
        if pause > 0 and await self.admission.wait_for_room(pause):
            await self.app(scope, receive, send)
            return
        try:
            while (message := await receive())["type"] == "http.request" and message.get("more_body", False):
                pass
        except HTTPException as exc:  # the body cap below us refused the body while we drained it
            await send_json_error(send, exc.status_code, str(exc.detail))
            return
        await send_json_error(send, 503, str(refusal), [(b"retry-after", str(refusal.retry_after_s).encode())])


class BodyLimit:
    """Refuses bodies over ``max_bytes``: at once from Content-Length, or as soon as a chunked body passes it."""

    def __init__(self, app: ASGIApp, max_bytes: int, metrics: Metrics):
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics

    def _refusal(self, size: str) -> HTTPException:
        self.metrics.rejected.labels("too_large").inc()
        return HTTPException(413, f"the request body is {size} bytes; the limit is {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1")
        if length.isdigit() and int(length) > self.max_bytes:
            await send_json_error(send, 413, str(self._refusal(length).detail))
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._refusal(f"more than {received}")
            return message

        await self.app(scope, counting_receive, send)


class CancelOnDisconnect:
    """Cancels a request's handler when its client goes away, so its queued photos are dropped.

    Once the body has been read, the only message left on ``receive`` is ``http.disconnect`` (a
    client that left, or the response being done); a watcher task waits for it.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_read = asyncio.Event()
        disconnected: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        async def app_receive() -> Message:
            if body_read.is_set():
                return await asyncio.shield(disconnected)
            message = await receive()
            if message["type"] == "http.disconnect":
                if not disconnected.done():
                    disconnected.set_result(message)
            elif not message.get("more_body", False):
                body_read.set()
            return message

        async def watch() -> None:
            await body_read.wait()
            message = await receive()
            if not disconnected.done():
                disconnected.set_result(message)

        response_sent = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_sent
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                response_sent = True

        handler = asyncio.create_task(self.app(scope, app_receive, tracking_send))
        watcher = asyncio.create_task(watch())
        try:
            await asyncio.wait({handler, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if not handler.done() and not response_sent:
                handler.cancel()
                self.metrics.rejected.labels("client_disconnected").inc()
                with contextlib.suppress(asyncio.CancelledError):
                    await handler
                return
            await handler
        finally:
            watcher.cancel()
            handler.cancel()


async def send_json_error(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """An error answer sent before the app runs, in the same ``{"error": ...}`` shape as the app's own."""
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
