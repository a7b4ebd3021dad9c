"""Idle connections against a real `altgen serve` (loopback): N sockets open and send nothing (a
tenth stop half-way through their headers) and are held for a while, while another client asks
/health and /v1/describe throughout. Prints how many the server closed and the other client's worst latency.

    python benchmarks/idle_connections.py [--connections 3000] [--hold-s 45]
Writes benchmarks/results/idle_connections.json.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path

import httpx

from common import sample_jpegs, start_server, stop_server

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))  # the socket check its test uses
from test_connections import closed_by_server  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument("--hold-s", type=float, default=45.0)
    args = parser.parse_args()
    process, base = start_server(devices="cpu")
    port = int(base.rsplit(":", 1)[1])
    photo = sample_jpegs()[0]
    sockets, latencies, statuses = [], [], []
    try:
        for i in range(args.connections):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 10 == 0:
                s.sendall(b"POST /getAltText HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            sockets.append(s)
        opened = time.monotonic()
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.monotonic() - opened < args.hold_s:
                started = time.monotonic()
                statuses.append(client.get("/health").status_code)
                statuses.append(client.post("/v1/describe", files={"images": ("p.jpg", photo)}).status_code)
                latencies.append(time.monotonic() - started)
                time.sleep(0.2)
        closed = sum(closed_by_server(s, wait_s=0.01) for s in sockets)
    finally:
        for s in sockets:
            s.close()
        stop_server(process)
    result = {
        "connections": args.connections,
        "hold_s": args.hold_s,
        "closed_by_server": closed,
        "closed_share": closed / args.connections,
        "other_client_requests": len(statuses),
        "other_client_non_200": sum(status != 200 for status in statuses),
        "other_client_worst_pair_s": max(latencies),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "idle_connections.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
