"""``altgen serve --engine ray``: join (or start) a Ray cluster, run the application, stop it on SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import threading

import ray
from ray import serve

from altgen.distributed.app import build_app
from altgen.settings import Settings

log = logging.getLogger(__name__)

APP_NAME = "altgen"


def serve_on_ray(settings: Settings) -> int:
    address = settings.ray_address or os.environ.get("RAY_ADDRESS")
    # A cluster of its own is one machine's: it listens on loopback only (clients reach the HTTP proxy).
    ray.init(address=address, namespace=APP_NAME, **({} if address else {"_node_ip_address": "127.0.0.1"}))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signal, _frame: stop.set())
    try:
        serve.start(http_options={"host": settings.host, "port": settings.port, "keep_alive_timeout_s": settings.keep_alive_s})
        serve.run(build_app(settings), name=APP_NAME, route_prefix="/")
        log.info("altgen is served by Ray on http://%s:%d", settings.host, settings.port)
        stop.wait()
    finally:
        serve.delete(APP_NAME)
        ray.shutdown()
    return 0
