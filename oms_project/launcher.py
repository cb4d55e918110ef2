"""`make run`: start the embedded services (unless DATABASE_URL / REDIS_URL are set), migrate,
load the demo data (and the demo client FIX session), print where everything is, run every
Procfile process, and on Ctrl-C stop them all, the embedded services last.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

from oms_project import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], check=True, cwd=BASE_DIR)


def _single_launcher(profile: str):
    """One `make run` per data directory: a second one would share (and, on exit, stop) the
    first one's database. The lock dies with this process, so a crash leaves none behind."""
    path = BASE_DIR / "var" / profile / "launcher.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        sys.exit(f"make run is already running on var/{profile}/ (pid {holder}); stop it first, "
                 "or give this one its own data with OMS_SERVICES_PROFILE=<name>")  # fmt: skip
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def banner(web_port: int, profile: str = "run") -> str:
    base = f"http://127.0.0.1:{web_port}"
    sima, simb = os.environ.get("OMS_SIMA_PORT", "9881"), os.environ.get("OMS_SIMB_PORT", "9882")
    fix_port, fix_comp_id = os.environ.get("OMS_FIX_PORT", "9878"), os.environ.get("OMS_FIX_COMPID", "OMS")
    return f"""
  ┌─ OMS is starting ─────────────────────────────────────────────────
  │ Web:        {base}/
  │ REST API:   {base}/api/v1/   (docs: {base}/api/v1/docs/)
  │ Health:     {base}/api/v1/health/
  │ Admin:      {base}/admin/
  │ Logins:     trader / risk / compliance / admin (password = user name)
  │ Venues:     SIMA on 127.0.0.1:{sima}, SIMB on 127.0.0.1:{simb} (simulated exchanges)
  │               FIX 4.4 from SenderCompID OMS; TargetCompID is the venue's name
  │ Client FIX: FIX 4.4 to 127.0.0.1:{fix_port}, TargetCompID {fix_comp_id}, SenderCompID CLIENT1
  │               (account CLIENT-1; sessions are edited in admin: Client sessions)
  │ Token:      curl -X POST {base}/api/v1/auth/token/ -H 'Content-Type: application/json' \\
  │               -d '{{"username": "trader", "password": "trader"}}'
  │ Data:       var/{profile}/ (kept between runs)    Ctrl-C stops everything
  └───────────────────────────────────────────────────────────────────
"""


def main() -> int:
    # Ctrl-C and `kill -INT` must work even when started in the background, where a shell
    # may have set SIGINT to be ignored (and Python would keep it so).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_project.settings")
    os.environ.setdefault("OMS_SERVICES_PROFILE", "run")
    web_port = int(os.environ.setdefault("OMS_WEB_PORT", "8000"))
    profile = os.environ["OMS_SERVICES_PROFILE"]
    lock = _single_launcher(profile)  # noqa: F841  (held until this process exits)

    def stop_during_setup(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM before the processes run: unwind through the cleanup

    signal.signal(signal.SIGTERM, stop_during_setup)
    try:
        embedded.main(["start", "--profile", profile])
        _manage("migrate", "--no-input", "-v", "0")
        _manage("load_demo_data")
        _manage("load_gateway_demo_data")  # the demo client FIX session, CLIENT1 (after its account)
        _manage("collectstatic", "--no-input", "-v", "0")  # admin, API docs: served by WhiteNoise
        print(banner(web_port, profile), flush=True)
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-d", str(BASE_DIR)],
            cwd=BASE_DIR,
            env={
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
                "PYTHONUNBUFFERED": "1",
            },
        )
        asked_to_stop = False

        def on_sigterm(*_: object) -> None:
            nonlocal asked_to_stop
            asked_to_stop = True
            honcho.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_sigterm)
        while True:
            try:
                code = honcho.wait()
                return 0 if asked_to_stop else code  # a requested stop is a clean exit
            except KeyboardInterrupt:
                # From a terminal honcho got the Ctrl-C too; from `kill -INT` only we did.
                # Either way honcho is told, once more does no harm, and we wait for it.
                asked_to_stop = True
                honcho.send_signal(signal.SIGTERM)
    except KeyboardInterrupt:
        print("stopped during set-up", file=sys.stderr)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        embedded.main(["stop", "--profile", profile])


if __name__ == "__main__":
    sys.exit(main())
