"""Connections that hold a socket without doing their part are shed, so that they cannot lock
everyone else out.

uvicorn only times a connection out after a response. Here:

- a connection gets ``header_timeout_s`` to deliver each request's headers;
- the app sees a request only once its body flows: all of it, or its first ``BODY_BUFFER`` bytes
  (a flood of bodies that never come costs no handler, no middleware, no access line);
- a request body must keep coming at ``body_min_rate`` bytes a second, checked every
  ``body_timeout_s`` (a body that trickles in gets 408 and the connection is closed);
- at most ``max_connections`` are open. When a new one would pass that, the connection that has
  been idle longest (between requests, or not yet through its headers) makes room for it; failing
  that, a body arriving slower than the minimum rate. Only when nothing can go is the new one
  refused, unless it fits in the ``ops_connections`` kept for ``/health``, ``/ready`` and
  ``/metrics`` (such a connection may ask those only);
- one remote address holds at most ``max_connections_per_client`` of them.

Shedding is logged once a minute, not per connection, and so is asyncio's "accept() out of
system resource". On shutdown, answers still in flight are marked "Connection: close".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from altgen.settings import Settings

log = logging.getLogger(__name__)

# Set in a request's scope when its connection was let in on the room kept for operators.
OPS_ONLY = "altgen.ops_only"
OPS_HEADER_TIMEOUT_S = 2.0  # a connection in the operators' room must ask at once
BODY_BUFFER = 16 * 1024  # under uvicorn's 64 KB read pause, so a body held back here never stalls
EVICTION_SCAN = 64  # bodies looked at for one that trickles, per connection over the limit


@dataclass(frozen=True)
class ConnectionRules:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    body_min_rate: int = 500
    max_connections: int = 4096
    max_connections_per_client: int = 512
    ops_connections: int = 32

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionRules:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


class ConnectionBook:
    """What every connection of one server shares: who is idle (oldest first), who is reading a
    body, and how many each remote address holds."""

    def __init__(self) -> None:
        self.idle: OrderedDict[object, None] = OrderedDict()
        self.reading: OrderedDict[object, None] = OrderedDict()
        self.per_client: Counter[str] = Counter()


def guarded_protocol(rules: ConnectionRules) -> type[H11Protocol]:
    """uvicorn's h11 protocol with the rules above; one book per server."""
    book = ConnectionBook()

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._app_itself = self.app
            self.app = self._app_when_body_flows
            self._header_timer: asyncio.TimerHandle | None = None
            self._body_timer: asyncio.TimerHandle | None = None
            self._body_bytes = 0
            self._body_started = 0.0
            self._ops_only = False
            self._address = self.client[0] if self.client else ""
            book.per_client[self._address] += 1
            if book.per_client[self._address] > rules.max_connections_per_client:
                _shed_log.note(f"a client holds {rules.max_connections_per_client} connections: closing its new ones")
                transport.abort()
                return
            if len(self.connections) > rules.max_connections and not _make_room(self):
                if len(self.connections) > rules.max_connections + rules.ops_connections:
                    _shed_log.note(f"over {rules.max_connections} busy connections: closing new ones")
                    transport.abort()
                    return
                self._ops_only = True  # the operators' room: /health, /ready and /metrics only
            self._mark_idle()
            self._start_header_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                self._stop_header_timer()  # the request's headers are in: the app's deadlines apply now
                book.idle.pop(self, None)
                if self._ops_only:
                    cycle.scope.setdefault("extensions", {})[OPS_ONLY] = {}
                if cycle.more_body:
                    if self._body_timer is None:
                        self._start_body_timer()
                    self._body_bytes += len(data)
                else:
                    self._stop_body_timer()
            elif self._header_timer is None:
                self._start_header_timer()  # bytes of a next request: its headers get the same time

        def on_response_complete(self) -> None:
            self._stop_body_timer()
            super().on_response_complete()
            if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
                self._mark_idle()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_header_timer()
            self._stop_body_timer()
            book.idle.pop(self, None)
            if getattr(self, "_address", None) is not None:
                book.per_client[self._address] -= 1
                if book.per_client[self._address] <= 0:
                    del book.per_client[self._address]
            super().connection_lost(exc)

        def shutdown(self) -> None:
            """On SIGTERM: an answer still to come says "Connection: close", so the client does not
            send its next request down a socket that is about to close (uvicorn closes it silently)."""
            if self.cycle is not None and not self.cycle.response_started:
                self.cycle.default_headers = [*self.cycle.default_headers, (b"connection", b"close")]
            super().shutdown()

        async def _app_when_body_flows(self, scope, receive, send) -> None:
            """Holds a request back from the app until its body is in or flowing (a client that asked for
            "100 Continue" is let through at once: it sends nothing until the app reads)."""
            cycle = self.cycle
            while cycle.more_body and len(cycle.body) < BODY_BUFFER and not cycle.disconnected and not cycle.waiting_for_100_continue:
                await cycle.message_event.wait()
                cycle.message_event.clear()
            if cycle.disconnected:
                return  # shed before the app saw it
            cycle.message_event.set()  # what arrived meanwhile is the app's first receive()
            await self._app_itself(scope, receive, send)

        # ---- idle and evictable --------------------------------------------------------
        def _mark_idle(self) -> None:
            book.idle[self] = None
            book.idle.move_to_end(self)

        def body_too_slow(self) -> bool:
            """Reading a body, for a second or more, at under the minimum rate (counted since its headers)."""
            if self not in book.reading or self.flow.read_paused:
                return False
            elapsed = time.monotonic() - self._body_started
            return elapsed >= 1.0 and self._body_bytes < rules.body_min_rate * elapsed

        # ---- timers ----------------------------------------------------------------------
        def _start_header_timer(self) -> None:
            timeout = min(rules.header_timeout_s, OPS_HEADER_TIMEOUT_S) if self._ops_only else rules.header_timeout_s
            self._header_timer = self.loop.call_later(timeout, self._headers_too_slow)

        def _stop_header_timer(self) -> None:
            if getattr(self, "_header_timer", None) is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is None or self.cycle.response_complete:
                _shed_log.note(f"closing connections that sent no complete request headers within {rules.header_timeout_s:g} s")
                self.transport.abort()

        def _start_body_timer(self) -> None:
            book.reading[self] = None
            self._body_bytes, self._body_started = 0, time.monotonic()
            self._body_timer = self.loop.call_later(rules.body_timeout_s, self._check_body_rate)

        def _stop_body_timer(self) -> None:
            if getattr(self, "_body_timer", None) is not None:
                self._body_timer.cancel()
                self._body_timer = None
            book.reading.pop(self, None)

        def _check_body_rate(self) -> None:
            """Each window, the body must have brought ``body_min_rate`` bytes a second. A window in which
            the app was not reading (flow control paused the socket) does not count against the client."""
            cycle = self.cycle
            if cycle is None or cycle.response_complete or not cycle.more_body:
                self._stop_body_timer()
                return
            if self.flow.read_paused or self._body_bytes >= rules.body_min_rate * rules.body_timeout_s:
                self._body_bytes, self._body_started = 0, time.monotonic()
                self._body_timer = self.loop.call_later(rules.body_timeout_s, self._check_body_rate)
                return
            self._body_timer = None
            self.refuse_slow_body()

        def refuse_slow_body(self) -> None:
            """408 (JSON) and close: the app's receive() sees a disconnect and its handler stops."""
            _shed_log.note(f"closing connections whose request body came at under {rules.body_min_rate} bytes/s")
            self._stop_body_timer()
            cycle = self.cycle
            if cycle is not None and not cycle.response_started:
                message = (f"the request body arrived at under {rules.body_min_rate} bytes a second; "
                           "the connection is closed, send the request again")
                body = json.dumps({"error": message}).encode()
                headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                           (b"connection", b"close")]
                try:
                    self.transport.write(self.conn.send(h11.Response(status_code=408, headers=headers, reason=b"Request Timeout")))
                    self.transport.write(self.conn.send(h11.Data(data=body)))
                    self.transport.write(self.conn.send(h11.EndOfMessage()))
                except h11.LocalProtocolError:
                    pass  # h11 would not take an answer now: just close
                cycle.response_started = True
            if cycle is not None:
                cycle.disconnected = True
                cycle.message_event.set()
            self.transport.close()

    def _make_room(newcomer: GuardedH11Protocol) -> bool:
        """Closes the longest-idle connection, else a body that trickles in, so that ``newcomer`` fits."""
        for idle in book.idle:
            if idle is not newcomer:
                _shed_log.note(f"at {rules.max_connections} connections: closing the longest idle ones to let new ones in")
                book.idle.pop(idle)
                idle.transport.abort()
                return True
        for reading in itertools.islice(book.reading, EVICTION_SCAN):  # the oldest bodies first: bounded work per accept
            if reading.body_too_slow():
                reading.refuse_slow_body()
                return True
        return False

    return GuardedH11Protocol


class OncePerMinute:
    """Says whether a message may be logged now: each distinct one at most once a minute."""

    def __init__(self, interval_s: float = 60.0):
        self.interval_s = interval_s
        self._last: dict[str, tuple[float, int]] = {}

    def allow(self, message: str) -> tuple[bool, int]:
        """(may log now, how many were held back since the last time)."""
        now = time.monotonic()
        last, held_back = self._last.get(message, (float("-inf"), 0))
        if now - last < self.interval_s:
            self._last[message] = (last, held_back + 1)
            return False, held_back + 1
        self._last[message] = (now, 0)
        return True, held_back

    def note(self, message: str) -> None:
        allowed, held_back = self.allow(message)
        if allowed:
            log.warning("%s%s", message, f" ({held_back} more since the last report)" if held_back else "")


_shed_log = OncePerMinute()


class AcceptErrorsOncePerMinute(logging.Filter):
    """For asyncio's logger: "socket.accept() out of system resource" once a minute, not per accept."""

    def __init__(self) -> None:
        super().__init__()
        self._limit = OncePerMinute()

    def filter(self, record: logging.LogRecord) -> bool:
        return "out of system resource" not in str(record.msg) or self._limit.allow("accept")[0]
