"""The ASGI application as a web worker (oms_project.web) loads it: a worker that outlives its
supervisor (killed with -9) would keep the listening socket, and the supervisor its respawn wrapper
starts again could not bind. So a worker asks Linux for SIGTERM when its parent dies.

Its event loop lives as long as it does, so pages of orders read on connections of that loop's own
(orders.pages.connect_on_loop)."""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1

supervisor = os.environ.get("OMS_WEB_SUPERVISOR_PID")  # set by oms_project.web when it runs workers
if supervisor and sys.platform.startswith("linux"):
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(supervisor):  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)

from oms_project.asgi import application  # noqa: E402
from orders import pages  # noqa: E402  (after Django is set up, by oms_project.asgi)

pages.connect_on_loop()  # pages of orders read on this server's loop, no thread

__all__ = ["application"]
