"""Connections that send nothing (or stop half-way through their headers) are shed by a real
`altgen serve`, while another client keeps being answered. Loopback only, bounded in count and time."""

from __future__ import annotations

import socket
import time

import requests

from test_end_to_end import start_server


def open_sockets(port: int, count: int, first_bytes: bytes = b"") -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if first_bytes:
            s.sendall(first_bytes)
        sockets.append(s)
    return sockets


def closed_by_server(s: socket.socket, wait_s: float = 0.05) -> bool:
    """Whether the server has closed ``s``, looking for at most ``wait_s`` (benchmarks/idle_connections.py too)."""
    s.settimeout(wait_s)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (socket.timeout, BlockingIOError):
        return False


def test_silent_and_half_header_connections_are_closed_and_others_still_answered(tmp_path):
    process, base = start_server(tmp_path / "server.log", "--header-timeout-s", "1", "--max-connections", "2000")
    port = int(base.rsplit(":", 1)[1])
    sockets = []
    try:
        sockets = open_sockets(port, 300) + open_sockets(port, 100, b"GET /health HTTP/1.1\r\nHost: x\r\n")
        worst = 0.0
        give_up = time.monotonic() + 3.0
        while time.monotonic() < give_up:  # another client, throughout
            started = time.monotonic()
            assert requests.get(f"{base}/health", timeout=5).status_code == 200
            worst = max(worst, time.monotonic() - started)
            time.sleep(0.05)
        closed = sum(closed_by_server(s) for s in sockets)
        log = (tmp_path / "server.log").read_text()
    finally:
        for s in sockets:
            s.close()
        process.terminate()
        process.wait(timeout=30)
    assert worst < 1.0
    assert closed >= 0.9 * len(sockets), closed
    assert log.count("sent no complete request headers") == 1  # one line per burst, not per connection


def test_connections_beyond_the_cap_are_closed_at_once(tmp_path):
    process, base = start_server(tmp_path / "server.log", "--header-timeout-s", "30", "--max-connections", "50")
    port = int(base.rsplit(":", 1)[1])
    sockets = []
    try:
        sockets = open_sockets(port, 120)
        time.sleep(0.5)
        closed = sum(closed_by_server(s) for s in sockets)
        for s in sockets:
            s.close()
        sockets = []
        time.sleep(0.5)
        assert requests.get(f"{base}/health", timeout=5).status_code == 200  # the cap frees as they go
    finally:
        for s in sockets:
            s.close()
        process.terminate()
        process.wait(timeout=30)
    assert 60 <= closed <= 75, closed  # all but ~50 (and the /ready poller's) were turned away
