"""Connections that send nothing (or stop half-way through their headers) are shed by a real
`altgen serve`, while another client keeps being answered. Loopback only, bounded in count and time."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest
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


# ---- floods of slow or idle connections (third hardening pass) ---------------------------------
# On Linux all of 127.0.0.0/8 is loopback: binding client sockets to 127.0.0.10, .11, ... makes them
# different clients to the server, as a flood from many hosts would be.
FLOOD_ADDRESSES = [f"127.0.0.{10 + i}" for i in range(41)]
NORMAL_CLIENT = "127.0.0.2"
RECOMMEND = {"query": "a cat", "candidates": [{"id": "c", "description": "a cat"}, {"id": "d", "description": "a dog"}]}


def needs_many_sockets(count: int) -> None:
    """Room for ``count`` sockets on each side (the server inherits the limit), and loopback aliases."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * count + 1024
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"needs a file limit of {wanted}; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.10", 0))
    except OSError:
        pytest.skip("needs 127.0.0.0/8 as loopback (Linux)")


async def open_flood(port: int, per_address: int, first: bytes, read_answer: bool) -> list[asyncio.StreamWriter]:
    """``per_address`` connections from each flood address, each sending ``first``; a bounded number open at once."""
    gate = asyncio.Semaphore(200)

    async def one(address: str) -> asyncio.StreamWriter | None:
        async with gate:
            for _attempt in range(3):  # an attacker tries again when turned away, so the flood holds the cap
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0)), 10
                    )
                    writer.write(first)
                    await writer.drain()
                    if read_answer:
                        await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), 10)
                    return writer
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                    await asyncio.sleep(0.1)
            return None

    opened = await asyncio.gather(*(one(a) for a in FLOOD_ADDRESSES for _ in range(per_address)))
    return [w for w in opened if w is not None]


async def normal_client(base: str, stop: asyncio.Event, statuses: list[int]) -> None:
    """Another client (its own address), a new connection for each request so that it needs a free slot each time."""
    while not stop.is_set():
        transport = httpx.AsyncHTTPTransport(local_address=NORMAL_CLIENT)
        async with httpx.AsyncClient(transport=transport, base_url=base, timeout=5) as client:
            for send in (lambda: client.get("/health"), lambda: client.post("/v1/recommend", json=RECOMMEND)):
                try:
                    statuses.append((await send()).status_code)
                except httpx.HTTPError:
                    statuses.append(0)
        await asyncio.sleep(0.05)


async def flood_while_a_client_asks(base: str, flood, hold_s: float) -> tuple[list[int], int]:
    """Opens ``flood`` and holds it ``hold_s`` while the normal client asks; (the statuses it got while the
    whole flood was open, connections opened)."""
    statuses: list[int] = []
    stop = asyncio.Event()
    asking = asyncio.create_task(normal_client(base, stop, statuses))
    writers = await flood()
    opened = len(statuses)  # what it got while the flood was still building up does not count
    await asyncio.sleep(hold_s)
    stop.set()
    await asking
    for writer in writers:
        writer.transport.abort()
    return statuses[opened:], len(writers)


def flooded(tmp_path, flags: tuple[str, ...], request: bytes, read_answer: bool) -> tuple[list[int], int, str]:
    """A server with ``flags`` under 4,100 connections (100 from each of 41 addresses) that each send ``request``:
    the statuses another client got meanwhile, how many flood connections opened, and the server's log."""
    process, base = start_server(tmp_path / "server.log", *flags)
    port = int(base.rsplit(":", 1)[1])
    try:
        flood = lambda: open_flood(port, 100, request, read_answer=read_answer)  # noqa: E731
        statuses, opened = asyncio.run(flood_while_a_client_asks(base, flood, hold_s=4))
        return statuses, opened, (tmp_path / "server.log").read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_flood_of_idle_keep_alive_connections_leaves_other_clients_served(tmp_path):
    needs_many_sockets(4100)
    # Each asks /health once, then sits idle on keep-alive.
    statuses, opened, log = flooded(tmp_path, ("--keep-alive-s", "60"), b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", True)
    assert opened >= 4000, opened
    assert statuses.count(200) >= 0.9 * len(statuses) and len(statuses) >= 10, statuses
    assert log.count("closing the longest idle ones") == 1  # said once, not per connection


def test_a_flood_of_slow_bodies_leaves_other_clients_served(tmp_path):
    needs_many_sockets(4100)
    headers = b"POST /v1/recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
    # Bodies that come a byte at a time (the flood sends no more: well under any rate).
    statuses, opened, log = flooded(tmp_path, ("--body-timeout-s", "3"), headers, False)
    assert opened >= 4000, opened
    assert statuses.count(200) >= 0.9 * len(statuses) and len(statuses) >= 10, statuses
    assert "request body came at under 500 bytes/s" in log


def test_one_address_gets_only_its_share_of_connections(tmp_path):
    needs_many_sockets(600)
    process, base = start_server(tmp_path / "server.log", "--max-connections-per-client", "100")
    port = int(base.rsplit(":", 1)[1])
    sockets = []
    try:
        for _ in range(300):
            s = socket.socket()
            s.bind(("127.0.0.3", 0))
            s.connect(("127.0.0.1", port))
            sockets.append(s)
        time.sleep(0.5)
        closed = sum(closed_by_server(s) for s in sockets)
        transport = httpx.HTTPTransport(local_address="127.0.0.4")
        with httpx.Client(transport=transport, base_url=base, timeout=5) as other:
            assert other.get("/health").status_code == 200  # another address is not held back
        log = (tmp_path / "server.log").read_text()
    finally:
        for s in sockets:
            s.close()
        process.terminate()
        process.wait(timeout=30)
    assert closed == 200, closed
    assert "a client holds 100 connections" in log


def test_at_the_limit_with_every_connection_busy_operators_still_see_health(tmp_path):
    needs_many_sockets(100)
    process, base = start_server(
        tmp_path / "server.log", "--max-connections", "40", "--ops-connections", "5", "--body-min-rate", "1"
    )
    port = int(base.rsplit(":", 1)[1])
    headers = b"POST /v1/recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
    busy = []
    try:
        for i in range(40):  # bodies slow but within this server's 1 byte/s: nothing to close
            s = socket.socket()
            s.bind((FLOOD_ADDRESSES[i % 4], 0))
            s.connect(("127.0.0.1", port))
            s.sendall(headers)
            busy.append(s)
        time.sleep(0.3)
        transport = httpx.HTTPTransport(local_address=NORMAL_CLIENT)
        with httpx.Client(transport=transport, base_url=base, timeout=5) as operator:
            health = operator.get("/health")
            ready = operator.get("/ready")
            refused = operator.post("/v1/recommend", json=RECOMMEND)
    finally:
        for s in busy:
            s.close()
        process.terminate()
        process.wait(timeout=30)
    assert health.status_code == 200 and ready.status_code == 200
    assert refused.status_code == 503 and "connection limit" in refused.json()["error"]
    assert refused.headers["retry-after"] == "1"
