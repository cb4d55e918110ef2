"""The web process: uvicorn serving oms_project.asgi (REST, admin, the blotter's page and its
websocket) with OMS_WEB_WORKERS worker processes on one listening socket, so HTTP uses every core.

uvicorn's supervisor binds the socket, starts the workers (each imports Django on its own) and
brings back one that dies; SIGTERM/SIGINT stop them all. Nothing a request needs lives in one
worker's memory alone: sessions and tokens are in PostgreSQL, the websockets' groups in the Redis
channel layer, and each worker's caches of tokens and reference data (orders/edge.py) follow
changes through a version on Redis.

    python -m oms_project.web [--port N] [--workers N]
"""

from __future__ import annotations

import argparse
import os

import uvicorn


def default_workers() -> int:
    return int(os.environ.get("OMS_WEB_WORKERS") or os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("OMS_WEB_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=default_workers(), help="default: OMS_WEB_WORKERS, else cores")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_project.settings")
    if args.workers > 1:  # uvicorn supervises worker processes; with one it serves in this process
        os.environ["OMS_WEB_SUPERVISOR_PID"] = str(os.getpid())  # the workers die with it (web_worker)
    uvicorn.run(
        "oms_project.web_worker:application",
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="off",  # Channels' router takes http and websocket only
        proxy_headers=True,  # X-Forwarded-For/-Proto from a proxy on this machine, as daphne's --proxy-headers
        forwarded_allow_ips="127.0.0.1",
        access_log=False,  # a line per request costs more than a fast request
        log_level=os.environ.get("OMS_WEB_LOG_LEVEL", "info"),
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
