"""Connections that hold a socket without asking for anything are shed, so that they cannot lock
everyone else out.

uvicorn's keep-alive timeout only starts after a response: a connection that opens and never
sends a request, or stops half-way through its headers, was kept forever, and enough of them
(the process's file limit) made every other client time out. Here a connection gets
``header_timeout_s`` to deliver each request's headers, at most ``max_connections`` are open at
once (a new one beyond that is closed at once), and asyncio's "accept() out of system resource"
complaint, repeated on every accept while files are exhausted, is logged once a minute. On
shutdown, answers still in flight are marked "Connection: close".
"""

from __future__ import annotations

import asyncio
import logging
import time

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


def guarded_protocol(header_timeout_s: float, max_connections: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline for request headers and a cap on open connections."""

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._header_timer: asyncio.TimerHandle | None = None
            if len(self.connections) > max_connections:
                _shed_log.note(f"over {max_connections} open connections: closing new ones")
                transport.abort()
                return
            self._start_header_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._stop_header_timer()  # the request's headers are in: the app's deadlines apply now
            elif self._header_timer is None:
                self._start_header_timer()  # bytes of a next request: its headers get the same time

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_header_timer()
            super().connection_lost(exc)

        def shutdown(self) -> None:
            """On SIGTERM: an answer still to come says "Connection: close", so the client does not
            send its next request down a socket that is about to close (uvicorn closes it silently)."""
            if self.cycle is not None and not self.cycle.response_started:
                self.cycle.default_headers = [*self.cycle.default_headers, (b"connection", b"close")]
            super().shutdown()

        def _start_header_timer(self) -> None:
            self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _stop_header_timer(self) -> None:
            if getattr(self, "_header_timer", None) is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is None or self.cycle.response_complete:
                _shed_log.note(f"closing connections that sent no complete request headers within {header_timeout_s:g} s")
                self.transport.abort()

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
