"""The connector's threads: each gives its database connection back when it ends, and a part
waiting to send when the connector stops ends quietly (`Stopped`)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import close_old_connections


class Stopped(Exception):
    """The connector stopped while this thread waited (for a session, say): nothing to report."""


def with_db(target: Callable[..., None]) -> Callable[..., None]:
    """Run `target` in a thread that gives its database connection back when it ends."""

    def run(*args):
        try:
            target(*args)
        except Stopped:
            pass
        finally:
            close_old_connections()
            from django.db import connection

            connection.close()

    return run


def spawn(target: Callable[..., None], *args, name: str | None = None) -> threading.Thread:
    """Start `target(*args)` on a daemon thread of its own, as `with_db` runs it."""
    thread = threading.Thread(target=with_db(target), args=args, name=name, daemon=True)
    thread.start()
    return thread
