"""QuickFIX's own session-layer acceptance scripts against the client FIX gateway, black box over
TCP (tests/conformance/run.py: which scripts, which are excluded and why). Every script that does
not expect QuickFIX's echo application runs, about a minute in all (two wait out heartbeats)."""

from __future__ import annotations

import shutil
import socket
import time

import pytest
from conformance.run import CLIENT_COMP_ID, OUR_COMP_ID, GatewayUnderTest, free_port, prepare_session, run_script
from conformance.run import scripts as quickfix_scripts
from conftest import engine_database_url
from venue_stack import LOG_DIR

from gateway.models import ClientSession

RUBY = shutil.which("ruby")


@pytest.fixture(scope="module")
def gateway(db_ready, django_db_blocker):
    with django_db_blocker.unblock():
        prepare_session()
        ClientSession.objects.update_or_create(comp_id="TWOFF", defaults={"active": False})
    log_path = LOG_DIR / "conformance-gateway.log"
    gateway = GatewayUnderTest(free_port(), log_path, {"DATABASE_URL": engine_database_url()})
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.mark.slow
@pytest.mark.skipif(RUBY is None, reason="ruby is not on PATH (Debian: apt-get install ruby): QuickFIX's Runner.rb")
@pytest.mark.parametrize("script", quickfix_scripts(), ids=lambda path: path.stem)
def test_the_gateway_passes_quickfix_session_script(gateway, script):
    result = run_script(script, gateway.port)
    assert result.passed, f"{script.name}:\n{result.output}"


def logon(sender: str, target: str) -> bytes:
    sending_time = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())
    body = f"35=A\x0134=1\x0149={sender}\x0152={sending_time}\x0156={target}\x0198=0\x01108=30\x01"
    head = f"8=FIX.4.4\x019={len(body)}\x01"
    return f"{head}{body}10={sum((head + body).encode()) % 256:03d}\x01".encode()


def answer(port: int, message: bytes) -> bytes:
    """Everything the gateway sends back before it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(message)
        received = b""
        while chunk := client.recv(4096):
            received += chunk
        return received


@pytest.mark.parametrize(("sender", "target"), [("NOBODY", OUR_COMP_ID), (CLIENT_COMP_ID, "SOMEONE")])
def test_with_strangers_unanswered_a_stranger_is_disconnected_without_a_word(gateway, sender, target):
    assert answer(gateway.port, logon(sender, target)) == b""


def test_with_strangers_unanswered_a_known_session_refused_is_still_told_why(gateway):
    assert b"\x0158=session TWOFF is not active\x01" in answer(gateway.port, logon("TWOFF", OUR_COMP_ID))
