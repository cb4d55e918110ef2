"""Keep one process running: restart it when it dies, with backoff; stop it on SIGTERM/SIGINT.

honcho stops every process as soon as one exits, so a crashed (or kill -9ed) engine would
take the web server and everything else with it. The Procfile runs each long-lived process
under this wrapper instead: a crash is logged and the process comes back, while Ctrl-C and
SIGTERM still stop it for good.

    python -m oms_project.respawn NAME -- COMMAND [ARGS...]
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time

log = logging.getLogger("oms.respawn")

MAX_BACKOFF_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0  # a run this long resets the backoff


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print(__doc__, file=sys.stderr)
        return 2
    name = argv[0] if argv[0] != "--" else "process"
    command = argv[argv.index("--") + 1 :]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s respawn  %(message)s")
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    backoff = 1.0
    while True:
        if stopping:  # a signal between the last check and here
            return 0
        started = time.monotonic()
        child = subprocess.Popen(command)
        code = child.wait()
        if stopping:
            return code if code >= 0 else 0
        ran = time.monotonic() - started
        backoff = 1.0 if ran > HEALTHY_AFTER_SECONDS else min(backoff * 2, MAX_BACKOFF_SECONDS)
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"
        log.error("%s %s after %.1fs; restarting in %.0fs", name, how, ran, backoff)
        deadline = time.monotonic() + backoff
        while time.monotonic() < deadline and not stopping:
            time.sleep(0.1)
        if stopping:
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
