"""QuickFIX's own session-layer acceptance scripts, run against the client FIX gateway.

The scripts (quickfix/quickfix `test/definitions/server/fix44/*.def`, vendored under quickfix/ with
the `Runner.rb` that plays them: quickfix/README.md) are a FIX client over TCP that sends what each
line says and compares every byte the acceptor answers with what the next line expects. They were
written for QuickFIX's own test acceptor: its CompID `ISLD`, its client `TW44`, ResetOnLogon=Y. So
the gateway here is `manage.py run_fix_gateway` with OMS_FIX_COMPID=ISLD and a ClientSession `TW44`
with `reset_on_logon`, and OMS_FIX_EXPLAIN_UNKNOWN=false: quickfix closes a stranger's connection
without a word (scripts 1c), where the gateway by default tells it why in a Logout. Each script runs
alone (`ruby Runner.rb 127.0.0.1 <port> <script>`), one after the other: they share the session.

Excluded, in EXCLUDED with the reason: the scripts that expect QuickFIX's echo application, which
sends a NewOrderSingle (or a SecurityDefinition) back as it came. The gateway answers an order with
ExecutionReports (35=8) instead; what those scripts check of the session layer (resends, PossDup,
garbled and out-of-sequence messages) the others check with admin messages.

    python tests/conformance/run.py [--port N] [SCRIPT ...]   # SCRIPT: a name, e.g. 2b_MsgSeqNumTooHigh

It uses the database and Valkey the environment names (OMS_SERVICES_PROFILE, DATABASE_URL), migrates
the database, and leaves the TW44 session there switched off (its messages stay in the FIX message
log, as any session's). tests/integration/test_fix_conformance.py
runs the same against the test database.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
QUICKFIX_DIR = Path(__file__).resolve().parent / "quickfix"
SCRIPTS_DIR = QUICKFIX_DIR / "definitions" / "server" / "fix44"

OUR_COMP_ID = "ISLD"  # the scripts' acceptor: SenderCompID (49) of everything they expect
CLIENT_COMP_ID = "TW44"  # the scripts' client (quickfix's at.cfg also names TW, used by no fix44 script)
GATEWAY_ENV = {"OMS_FIX_COMPID": OUR_COMP_ID, "OMS_FIX_EXPLAIN_UNKNOWN": "false"}

RUNNER_COUNT = re.compile(r"^(\d+ tests passed|FAILED \d+ out of \d+ tests)$")
SCRIPT_TIMEOUT_SECONDS = 120  # the longest (6_SendTestRequest) waits out five 6-second heartbeats

ECHO = "expects QuickFIX's echo application: the NewOrderSingle (35=D) sent back as it came"
EXCLUDED = {
    "14e_IncorrectEnumValue": ECHO + " (its last step; the two rejects before it are the gateway's too)",
    "15_HeaderAndBodyFieldsOrderedDifferently": ECHO,
    "19a_PossResendMessageThatHAsAlreadyBeenSent": ECHO + ", and its PossResend (97=Y) repeat dropped by ClOrdID",
    "19b_PossResendMessageThatHasNotBeenSent": ECHO,
    "20_SimultaneousResendRequest": ECHO + ", then resent from the store",
    "21_RepeatingGroupSpecifierWithValueOfZero": "expects QuickFIX's echo application: the SecurityDefinition (35=d) "
    "sent back as it came (the gateway does not take 35=d: 35=j)",
    "2d_GarbledMessage": ECHO,
    "2f_PossDupOrigSendingTimeTooHigh": ECHO,
    "2g_PossDupNoOrigSendingTime": ECHO,
    "2m_BodyLengthValueNotCorrect": ECHO,
    "3b_InvalidChecksum": ECHO,
    "3c_GarbledMessage": ECHO,
    "8_AdminAndApplicationMessages": ECHO + ", then resent from the store",
    "8_OnlyApplicationMessages": ECHO + ", then resent from the store",
}


@dataclass(frozen=True)
class Result:
    script: str
    passed: bool
    seconds: float
    output: str  # Runner.rb's report: the line, what it expected and what it received


def scripts(names: Iterable[str] = ()) -> list[Path]:
    """The scripts named, or every script not excluded, in QuickFIX's order (by name)."""
    every = sorted(SCRIPTS_DIR.glob("*.def"))
    stale = set(EXCLUDED) - {p.stem for p in every}
    if stale:
        raise ValueError(f"EXCLUDED names scripts that are not in {SCRIPTS_DIR}: {sorted(stale)}")
    if names:
        by_name = {p.stem: p for p in every}
        unknown = [n for n in names if n.removesuffix(".def") not in by_name]
        if unknown:
            raise ValueError(f"no such script: {', '.join(unknown)}")
        return [by_name[n.removesuffix(".def")] for n in names]
    return [p for p in every if p.stem not in EXCLUDED]


def run_script(script: Path, port: int, timeout: float = SCRIPT_TIMEOUT_SECONDS) -> Result:
    """One script against the gateway on 127.0.0.1:`port`, as quickfix's runat does it."""
    started = time.monotonic()
    try:
        done = subprocess.run(["ruby", "-I.", "Runner.rb", "127.0.0.1", str(port), str(script)], cwd=QUICKFIX_DIR,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        # Runner.rb prints the script's path, a report of the failure if any, then a count
        lines = (done.stdout + done.stderr).splitlines()
        report = [line for line in lines if line != str(script) and not RUNNER_COUNT.match(line)]
        passed, output = done.returncode == 0, "\n".join(report)
    except subprocess.TimeoutExpired:
        passed, output = False, f"    no end after {timeout:.0f}s: an expected message never came"
    return Result(script.stem, passed, time.monotonic() - started, output)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayUnderTest:
    """`manage.py run_fix_gateway` as the scripts expect it: CompID ISLD, strangers not answered."""

    def __init__(self, port: int, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.log_path = log_path
        self.env = {**os.environ, **(env or {}), **GATEWAY_ENV, "PYTHONUNBUFFERED": "1"}
        # A bus prefix of its own: its heartbeat is not taken for the deployment's gateway's. It needs no
        # engine: TW44 may trade nothing, so an order that passes the session layer is refused before.
        self.env["OMS_BUS_PREFIX"] = self.env.get("OMS_BUS_PREFIX", "oms") + "-conformance"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "a")
        self.process = subprocess.Popen([sys.executable, "manage.py", "run_fix_gateway", "--port", str(self.port)],
                                        cwd=BASE_DIR, env=self.env, stdout=log, stderr=log)  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:  # the front listens once every active session's acceptor is up
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"run_fix_gateway did not start; see {self.log_path}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


def prepare_session() -> None:
    """The scripts' client as a ClientSession: active, starting at 1 at every logon, no accounts (no
    script that runs here sends an order the session layer lets through)."""
    from gateway.models import ClientSession

    ClientSession.objects.update_or_create(comp_id=CLIENT_COMP_ID, defaults={
        "active": True, "reset_on_logon": True, "allowed_addresses": "",
        "description": "QuickFIX's acceptance scripts (tests/conformance)",
    })  # fmt: skip


def retire_session() -> None:
    from gateway.models import ClientSession

    ClientSession.objects.filter(comp_id=CLIENT_COMP_ID).update(active=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=None, help="the gateway's port (default: a free one)")
    parser.add_argument("script", nargs="*", help="script names (default: every one not excluded)")
    args = parser.parse_args(argv)
    if shutil.which("ruby") is None:
        print("ruby is not on PATH (Debian: apt-get install ruby); the scripts are played by QuickFIX's Runner.rb")
        return 2
    try:
        selected = scripts(args.script)
    except ValueError as error:
        parser.error(str(error))

    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_project.settings")
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    prepare_session()
    gateway = GatewayUnderTest(args.port or free_port(), Path(settings.BASE_DIR) / "var" / settings.SERVICES.profile
                               / "conformance-gateway.log")  # fmt: skip
    started = time.monotonic()
    gateway.start()
    results = []
    try:
        for script in selected:
            result = run_script(script, gateway.port)
            results.append(result)
            print(f"{'pass' if result.passed else 'FAIL'}  {result.seconds:5.1f}s  {result.script}", flush=True)
            if not result.passed:
                print(result.output, flush=True)
    finally:
        gateway.stop()
        retire_session()
    failed = [r.script for r in results if not r.passed]
    if not args.script:
        for name, reason in EXCLUDED.items():
            print(f"excluded      {name}: {reason}")
    print(
        f"{len(results) - len(failed)} of {len(results)} scripts passed in {time.monotonic() - started:.0f}s"
        f"{', ' + str(len(EXCLUDED)) + ' excluded' if not args.script else ''}; gateway log: {gateway.log_path}"
    )
    if failed:
        print("failed: " + " ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
