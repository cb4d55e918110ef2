"""The client FIX gateway over real FIX on loopback: a quickfix initiator as the client, the
gateway (`run_fix_gateway`) as a process, the engine, a quiet simulated venue with the connector,
and a counterparty there whose orders fill the client's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
import quickfix as fix
from conftest import BASE_DIR, engine_database_url
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.test import Client as DjangoClient
from fixclient import Collector, FixClient
from venue_stack import (
    LOG_DIR,
    Connector,
    Simulator,
    _wait_listening,
    committed,
    counterparty,
    free_port,
    status_is,
    wait_order,
)

from gateway import health
from gateway.fix.audit import fields_of
from gateway.models import ClientSession, FixMessage
from orders import bus, venue_feed
from orders.domain import commands as cmd
from orders.engine.reference import RELOAD_MIN_SECONDS
from orders.models import Account, Order
from venues.fix.config import SessionSpec, session_settings, settings_text
from venues.models import Venue

COMP_ID = "CLIENT1"
ACCOUNT = "CLIENT-1"


class GatewayProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": engine_database_url(), "PYTHONUNBUFFERED": "1"}
        log = open(LOG_DIR / "gateway.log", "a")
        self.process = subprocess.Popen([sys.executable, "manage.py", "run_fix_gateway", "--port", str(self.port)],
                                        cwd=BASE_DIR, env=env, stdout=log, stderr=log)  # fmt: skip
        _wait_listening(self.port, self.process, "run_fix_gateway")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=40)  # it exits by itself after 20 s at worst (run_fix_gateway)


@dataclass
class Stack:
    gateway: GatewayProcess
    client: FixClient
    venue: Simulator
    cpty: FixClient
    seen_exec_ids: list[str]


@pytest.fixture(scope="module")
def stack(engine_process, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        session, _ = ClientSession.objects.update_or_create(
            comp_id=COMP_ID, defaults={"active": True, "default_account_id": ACCOUNT, "allowed_addresses": ""}
        )
        session.accounts.set([Account.objects.get(code=ACCOUNT)])
        ClientSession.objects.update_or_create(comp_id="SLEEPY", defaults={"active": False})
        ClientSession.objects.update_or_create(comp_id="FARAWAY", defaults={"allowed_addresses": "10.1.2.3"})
        venue = Simulator("TGQUIET", "--no-liquidity")
        connector = Connector([venue.name], resync_seconds=3)
        gateway = GatewayProcess()
        clients: list[FixClient] = []
        try:
            venue.start()
            Venue.objects.update_or_create(
                name=venue.name, defaults={"port": venue.port, "target_comp_id": venue.name, "active": True}
            )
            connector.start()
            connector.wait_logged_on()
            gateway.start()
            clients.append(FixClient(COMP_ID, "OMS", gateway.port, tmp_path_factory.mktemp("client")))
            clients[0].start()
            clients.append(counterparty(venue, tmp_path_factory.mktemp("cpty")))
            yield Stack(gateway, clients[0], venue, clients[1], [])
        finally:
            for client in clients:
                client.stop()
            try:
                gateway.stop()
            finally:  # whatever happens to one, the others are stopped: none left running
                try:
                    connector.stop()
                finally:
                    venue.stop()
                    Venue.objects.filter(name=venue.name).update(active=False)


def wait_children(parent_id: int, count: int, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while len(children := list(Order.objects.filter(parent_id=parent_id).values_list("id", flat=True))) < count:
        assert time.monotonic() < deadline, f"the router placed {len(children)} children, not {count}"
        time.sleep(0.1)
    return children


def now() -> str:
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())  # a UTCTimestamp, as 60 TransactTime


def new_id(prefix: str = "G") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def order(stack: Stack, cl_ord_id: str | None = None, *, venue: str | None = "TGQUIET", symbol: str = "AMZN",
          quantity: str = "100", price: str = "50", side: str = "1", **extra: str) -> str:  # fmt: skip
    cl_ord_id = cl_ord_id or new_id()
    fields = {11: cl_ord_id, 1: ACCOUNT, 55: symbol, 54: side, 38: quantity, 40: "2", 44: price, 59: "0"}
    if venue:
        fields[100] = venue
    stack.client.send("D", {**fields, **{int(k[1:]): v for k, v in extra.items()}})
    return cl_ord_id


def until(stack: Stack, predicate, timeout: float = 20) -> dict[int, str]:
    """The first message that satisfies `predicate`; every ExecID seen is kept, to find repeats."""
    deadline = time.monotonic() + timeout
    while True:
        message = stack.client.receive(max(0.01, deadline - time.monotonic()))
        if message.get(35) == "8" and not message.get(17, "").startswith(("S", "R")):
            stack.seen_exec_ids.append(message[17])
        if predicate(message):
            return message


def er(cl_ord_id: str, exec_type: str):
    return lambda m: m.get(35) == "8" and m.get(11) == cl_ord_id and m.get(150) == exec_type


def sell(stack: Stack, symbol: str, quantity: str, price: str) -> None:
    stack.cpty.send("D", {11: new_id("C"), 55: symbol, 54: "2", 38: quantity, 40: "2", 44: price, 59: "3"})


def placed(stack: Stack, **fields) -> tuple[str, dict[int, str]]:
    """An order at the quiet venue, acknowledged there: (its ClOrdID, its New report)."""
    cl_ord_id = order(stack, **fields)
    until(stack, er(cl_ord_id, "A"))
    return cl_ord_id, until(stack, er(cl_ord_id, "0"))


# -- logon -----------------------------------------------------------------------------------------


class LogoutCollector(Collector):
    def __init__(self) -> None:
        super().__init__()
        self.logout_text: str | None = None

    def fromAdmin(self, message, session_id):
        if message.getHeader().getField(35) == "5":
            self.logout_text = message.getField(58) if message.isSetField(58) else ""


@pytest.mark.parametrize(("comp_id", "why"), [
    ("NOBODY", "unknown CompID NOBODY"),
    ("SLEEPY", "session SLEEPY is not active"),
    ("FARAWAY", "may not connect from 127.0.0.1"),
])  # fmt: skip
def test_a_logon_of_an_unknown_or_inactive_comp_id_is_refused_saying_why(stack, tmp_path, comp_id, why):
    text = settings_text(acceptor=False, port=stack.gateway.port, sessions=[SessionSpec(comp_id, "OMS")],
                         state_dir=tmp_path, heartbeat_seconds=5, reconnect_seconds=30)  # fmt: skip
    settings = session_settings(text, tmp_path / "initiator.cfg")
    app = LogoutCollector()
    initiator = fix.SocketInitiator(app, fix.MemoryStoreFactory(), settings, fix.ScreenLogFactory(False, False, False))
    initiator.start()
    try:
        deadline = time.monotonic() + 10
        while app.logout_text is None:
            assert time.monotonic() < deadline, "no Logout"
            time.sleep(0.05)
        assert why in app.logout_text
        assert not app.logged_on
    finally:
        initiator.stop(True)


def test_the_client_logs_on(stack):
    assert stack.client.app.logged_on


# -- orders ----------------------------------------------------------------------------------------


def test_an_order_is_pending_new_then_new_then_filled_as_the_venue_fills_it(stack):
    cl_ord_id = order(stack, quantity="100", price="50")
    pending = until(stack, er(cl_ord_id, "A"))
    assert (pending[39], pending[14], pending[151], pending[1]) == ("A", "0", "100", ACCOUNT)
    order_id = pending[37]
    new = until(stack, er(cl_ord_id, "0"))
    assert new[39] == "0" and new[37] == order_id
    sell(stack, "AMZN", "40", "50")
    partial = until(stack, er(cl_ord_id, "F"))
    assert (partial[39], partial[32], partial[31], partial[14], partial[151]) == ("1", "40", "50", "40", "60")
    sell(stack, "AMZN", "60", "49")
    filled = until(stack, er(cl_ord_id, "F"))
    assert (filled[39], filled[32], filled[14], filled[151], filled[6]) == ("2", "60", "100", "0", "50")
    assert int(partial[17][1:]) < int(filled[17][1:])  # ExecIDs are log positions


def test_cancel_is_pending_cancel_then_canceled(stack):
    cl_ord_id, new = placed(stack, symbol="MSFT", quantity="10", price="20")
    cancel_id = new_id("X")
    stack.client.send("F", {11: cancel_id, 41: cl_ord_id, 1: ACCOUNT, 55: "MSFT", 54: "1", 38: "10"})
    pending = until(stack, er(cancel_id, "6"))
    assert (pending[41], pending[39], pending[37]) == (cl_ord_id, "6", new[37])
    canceled = until(stack, er(cancel_id, "4"))
    assert (canceled[41], canceled[39], canceled[151]) == (cl_ord_id, "4", "0")


def test_replace_is_pending_replace_then_replaced_with_the_new_size_and_price(stack):
    cl_ord_id, new = placed(stack, symbol="MSFT", quantity="10", price="20")
    replace_id = new_id("Y")
    stack.client.send("G", {37: new[37], 11: replace_id, 41: cl_ord_id, 1: ACCOUNT, 55: "MSFT", 54: "1", 38: "20",
                            40: "2", 44: "21"})  # fmt: skip
    until(stack, er(replace_id, "E"))
    replaced = until(stack, er(replace_id, "5"))
    assert (replaced[41], replaced[38], replaced[44], replaced[39]) == (cl_ord_id, "20", "21", "0")


def test_every_message_about_an_order_is_in_the_fix_message_log_read_only_for_compliance(stack):
    cl_ord_id, new = placed(stack, symbol="SPY", quantity="4", price="30")
    replace_id = new_id("Y")
    stack.client.send("G", {37: new[37], 11: replace_id, 41: cl_ord_id, 1: ACCOUNT, 55: "SPY", 54: "1", 38: "5",
                            40: "2", 44: "31"})  # fmt: skip
    until(stack, er(replace_id, "5"))
    deadline = time.monotonic() + 10
    while not FixMessage.objects.filter(session=COMP_ID, direction="out", cl_ord_id=replace_id, msg_type="8").filter(
        raw__contains="\x01150=5\x01"
    ):
        assert time.monotonic() < deadline, "the replace's report never reached the message log"
        time.sleep(0.1)
    about = FixMessage.objects.filter(session=COMP_ID).filter(
        Q(cl_ord_id__in=[cl_ord_id, replace_id]) | Q(order_id=new[37])
    )
    seen = [(m.direction, m.msg_type, fields_of(m.raw).get("11")) for m in about.order_by("id")]
    assert ("in", "D", cl_ord_id) in seen and ("in", "G", replace_id) in seen
    reports = [m for m in about if m.direction == "out" and m.msg_type == "8"]
    assert {m.raw.split("\x01150=")[1][0] for m in reports} >= {"A", "0", "E", "5"}
    assert all(m.order_id == new[37] and m.msg_seq_num for m in reports)
    # read-only, by the database itself
    with pytest.raises(Exception, match="append-only"):
        committed("UPDATE gateway_fix_messages SET raw = 'x' WHERE id = %s", reports[0].id)
    # compliance reads it per order in admin, and may not change it
    officer, _ = get_user_model().objects.get_or_create(username="fix-log-reader", defaults={"is_staff": True})
    officer.user_permissions.add(Permission.objects.get(codename="view_fixmessage"))
    browser = DjangoClient()
    browser.force_login(officer)
    page = browser.get(f"/admin/gateway/fixmessage/?order={new[37]}")
    assert page.status_code == 200
    assert replace_id in page.content.decode() and cl_ord_id in page.content.decode()
    detail = browser.get(f"/admin/gateway/fixmessage/{reports[0].id}/change/")
    assert detail.status_code == 200 and "ExecType" in detail.content.decode()
    assert browser.post(f"/admin/gateway/fixmessage/{reports[0].id}/delete/").status_code == 403
    stack.client.send("F", {11: new_id("X"), 41: replace_id, 1: ACCOUNT, 55: "SPY", 54: "1", 38: "5"})
    until(stack, lambda m: m.get(35) == "8" and m.get(150) == "4" and m[41] == replace_id)  # working orders: none left


def test_a_cancel_of_a_filled_order_is_rejected_too_late(stack):
    cl_ord_id, _ = placed(stack, symbol="NVDA", quantity="5", price="30")
    sell(stack, "NVDA", "5", "30")
    until(stack, lambda m: er(cl_ord_id, "F")(m) and m[39] == "2")
    cancel_id = new_id("X")
    stack.client.send("F", {11: cancel_id, 41: cl_ord_id, 1: ACCOUNT, 55: "NVDA", 54: "1", 38: "5"})
    reject = until(stack, lambda m: m.get(35) == "9" and m.get(11) == cancel_id)
    assert (reject[41], reject[434], reject[102], reject[39]) == (cl_ord_id, "1", "0", "2")
    assert "too late" in reject[58]


def test_a_price_far_from_the_reference_is_rejected_naming_the_price_band(stack):
    symbol = f"Z{uuid.uuid4().hex[:6].upper()}"
    committed("INSERT INTO orders_instrument (symbol, description, tick_size, lot_size, currency, asset_class, active,"
              " restricted) VALUES (%s, '', 0.01, 1, 'USD', 'equity', true, false)", symbol)  # fmt: skip
    venue_feed.publish_book("HELD", symbol, [(Decimal("99.9"), Decimal(100))], [(Decimal("100.1"), Decimal(100))])
    time.sleep(RELOAD_MIN_SECONDS + 0.05)
    answer = bus.send(cmd.ChangeInstrumentRisk(bus.new_command_id(), time.time_ns(), "user:risk", symbol,
                                               (("price_band_pct", "10"),), "test"), timeout=10)  # fmt: skip
    assert answer["outcome"] == "accepted", answer
    cl_ord_id = order(stack, venue=None, symbol=symbol, quantity="1", price="150")
    rejected = until(stack, er(cl_ord_id, "8"))
    assert (rejected[39], rejected[103]) == ("8", "99")
    assert "price band" in rejected[58] and rejected[37] != "NONE"


def test_an_account_the_session_may_not_trade_is_rejected(stack):
    cl_ord_id = new_id()
    stack.client.send("D", {11: cl_ord_id, 1: "DESK-EQ", 55: "AMZN", 54: "1", 38: "1", 40: "2", 44: "50", 59: "0"})
    rejected = until(stack, er(cl_ord_id, "8"))
    assert (rejected[39], rejected[103], rejected[37]) == ("8", "99", "NONE")
    assert "DESK-EQ" in rejected[58]


def test_an_order_breaking_the_order_entry_rules_is_rejected_naming_the_tag_as_rest_would(stack):
    cl_ord_id = order(stack, venue=None, symbol="NOPE")
    rejected = until(stack, er(cl_ord_id, "8"))
    assert (rejected[39], rejected[103], rejected[37]) == ("8", "1", "NONE")
    assert rejected[58] == "55 Symbol: unknown symbol 'NOPE'"
    cl_ord_id = order(stack, venue="NOWHERE")
    assert until(stack, er(cl_ord_id, "8"))[58] == "100 ExDestination: unknown or inactive venue 'NOWHERE'"
    cl_ord_id = order(stack, venue=None, _848="strategy=twap")
    assert until(stack, er(cl_ord_id, "8"))[58] == (
        "848 TargetStrategyParameters: unknown strategy 'twap' (split, slices or direct)"
    )
    assert stack.client.app.logged_on


def test_a_parent_order_over_fix_is_split_by_the_router_and_the_client_sees_only_the_parent(stack):
    cl_ord_id = order(stack, venue=None, symbol="TSLA", quantity="6", price="20",
                      _848=f"strategy=slices;slices=2;venues={stack.venue.name}")  # fmt: skip
    new = until(stack, er(cl_ord_id, "0"))
    parent_id = int(new[37])
    children = wait_children(parent_id, 2)
    sell(stack, "TSLA", "6", "20")
    filled = until(stack, lambda m: er(cl_ord_id, "F")(m) and m[39] == "2")
    assert (filled[37], filled[14], filled[151]) == (str(parent_id), "6", "0")
    time.sleep(0.5)  # anything about a child would have come by now
    about_children = FixMessage.objects.filter(session=COMP_ID, direction="out").filter(
        order_id__in=[str(c) for c in children]
    )
    assert not about_children.exists(), "a child order was reported to the client"


def test_a_reused_cl_ord_id_is_rejected_and_a_possible_resend_answers_the_orders_status(stack):
    cl_ord_id = order(stack, venue=None, quantity="3", price="100")  # to HELD: it stays pending new
    first = until(stack, er(cl_ord_id, "A"))
    order(stack, cl_ord_id, venue=None, quantity="3", price="100")
    duplicate = until(stack, er(cl_ord_id, "8"))
    assert duplicate[103] == "6"
    stack.client.send("D", {11: cl_ord_id, 1: ACCOUNT, 55: "AMZN", 54: "1", 38: "3", 40: "2", 44: "100", 59: "0"})
    # the same again, as a possible resend (97 PossResend is a header field)
    message = fix.Message()
    message.getHeader().setField(fix.BeginString("FIX.4.4"))
    message.getHeader().setField(fix.MsgType("D"))
    message.getHeader().setField(97, "Y")
    for tag, value in {11: cl_ord_id, 1: ACCOUNT, 55: "AMZN", 54: "1", 38: "3", 40: "2", 44: "100", 59: "0"}.items():
        message.setField(tag, value)
    message.setField(fix.TransactTime())
    stack.client.send_message(message)
    status = until(stack, er(cl_ord_id, "I"))
    assert (status[37], status[39]) == (first[37], "A")
    # (43 PossDupFlag the same: a quickfix client never sends it on a new message, so unit tests cover it)
    time.sleep(0.5)
    assert wait_order(int(first[37]), status_is("pending_new")).quantity == 3


def test_an_order_status_request_answers_the_orders_status(stack):
    cl_ord_id, new = placed(stack, symbol="TSLA", quantity="7", price="10")
    stack.client.send("H", {11: cl_ord_id, 1: ACCOUNT, 55: "TSLA", 54: "1", 790: "Q1"})
    status = until(stack, er(cl_ord_id, "I"))
    assert (status[37], status[39], status[151], status[790]) == (new[37], "0", "7", "Q1")
    stack.client.send("H", {11: "NO-SUCH", 1: ACCOUNT, 55: "TSLA", 54: "1"})
    unknown = until(stack, er("NO-SUCH", "I"))
    assert (unknown[39], unknown[103]) == ("8", "5")


def test_an_unsupported_message_type_gets_a_business_message_reject(stack):
    stack.client.subscribe_market_data("MD1", ["AMZN"])
    reject = until(stack, lambda m: m.get(35) == "j")
    assert (reject[372], reject[380]) == ("V", "3")


@pytest.mark.parametrize(("fields", "answer"), [
    ({54: None}, ("3", 373, "1")),  # no side: a required tag missing
    ({54: "9"}, ("3", 373, "5")),  # a side FIX 4.4 does not have
    ({38: "many"}, ("3", 373, "6")),  # a quantity that is no number
    ({38: "-5"}, ("3", 373, "5")),  # a quantity that is no quantity
    # no symbol: FIX 4.4 makes it required only within its Instrument, so the business layer says so
    ({55: None}, ("j", 380, "5")),
])  # fmt: skip
def test_a_malformed_order_is_rejected_saying_what_and_the_session_stays_up(stack, fields, answer):
    cl_ord_id = new_id()
    base = {11: cl_ord_id, 1: ACCOUNT, 55: "AMZN", 54: "1", 38: "1", 40: "2", 44: "50", 59: "0"}
    stack.client.send("D", {tag: value for tag, value in {**base, **fields}.items() if value is not None})
    msg_type, tag, value = answer
    reject = until(stack, lambda m: m.get(35) in ("3", "j"))
    assert (reject[35], reject[tag]) == (msg_type, value), reject
    stack.client.send("H", {11: "NO-SUCH", 1: ACCOUNT, 55: "AMZN", 54: "1"})
    until(stack, er("NO-SUCH", "I"))
    assert stack.client.app.logged_on


def test_a_mass_cancel_by_symbol_cancels_the_sessions_working_orders_in_it(stack):
    first, _ = placed(stack, symbol="SPY", quantity="3", price="10")
    second, _ = placed(stack, symbol="SPY", quantity="4", price="11")
    other, _ = placed(stack, symbol="TSLA", quantity="5", price="12")
    mass_id = new_id("M")
    stack.client.send("q", {11: mass_id, 530: "1", 55: "SPY", 60: now()})
    report = until(stack, lambda m: m.get(35) == "r" and m.get(11) == mass_id)
    assert (report[530], report[531], report[533]) == ("1", "1", "2")
    canceled = set()
    while canceled != {first, second}:
        message = until(stack, lambda m: m.get(35) == "8" and m.get(150) == "4")
        assert message[41] != other
        canceled.add(message[41])
    stack.client.send("q", {11: new_id("M"), 530: "4", 461: "ESXXXX", 60: now()})  # by CFI code: not served
    refused = until(stack, lambda m: m.get(35) == "r" and m.get(531) == "0")
    assert refused[532] == "0"


def acceptor_health() -> str:
    return DjangoClient().get("/api/v1/health/").json()["components"]["fix_acceptor"]


def test_a_gateway_killed_and_restarted_sends_what_the_client_missed_once(stack, settings):
    settings.OMS_FIX_GATEWAY = True  # health reports it (the test stack runs no gateway elsewhere)
    assert acceptor_health() == "ok"
    cl_ord_id, new = placed(stack, symbol="AAPL", quantity="10", price="40")
    stack.gateway.kill()
    deadline = time.monotonic() + health.HEALTH_TTL_SECONDS + 2
    while acceptor_health() == "ok":
        assert time.monotonic() < deadline, "health still says the gateway is up"
        time.sleep(0.2)
    assert acceptor_health() == "not running (no heartbeat)"
    sell(stack, "AAPL", "10", "40")  # fills while the gateway is away
    wait_order(int(new[37]), status_is("filled"))
    # as if it had died between sending its last reports and moving its checkpoint past them
    committed("UPDATE orders_checkpoint SET position = position - 3 WHERE name = %s", f"fix-client:{COMP_ID}")
    stack.gateway.start()
    filled = until(stack, er(cl_ord_id, "F"), timeout=30)
    assert (filled[39], filled[14]) == ("2", "10")
    assert stack.client.app.logged_on
    # the sequence went on: the client kept its numbers (no reset on this logon) and was let in
    assert not stack.client.app.fresh
    stack.client.send("H", {11: cl_ord_id, 1: ACCOUNT, 55: "AAPL", 54: "1"})
    until(stack, er(cl_ord_id, "I"))
    assert len(stack.seen_exec_ids) == len(set(stack.seen_exec_ids)), "an ExecutionReport came twice"
    assert acceptor_health() == "ok"


def test_a_client_that_missed_messages_gets_them_again_on_its_resend_request_marked_poss_dup(stack, tmp_path):
    comp_id = new_session(ACCOUNT)
    client = FixClient(comp_id, "OMS", stack.gateway.port, tmp_path)
    try:
        client.start()
        cl_ord_id = new_id()
        client.send("D", {11: cl_ord_id, 55: "MSFT", 54: "1", 38: "3", 40: "2", 44: "9", 59: "0", 100: "TGQUIET"})
        first = client.receive_until(er(cl_ord_id, "0"))
        # As if the last two messages had been lost on the way: the client expects them again, so
        # the next one it gets is too high and it asks for the gap (35=2).
        session = fix.Session.lookupSession(client.app.session_id)
        session.setNextTargetMsgSeqNum(session.getExpectedTargetNum() - 2)
        client.send("H", {11: cl_ord_id, 55: "MSFT", 54: "1"})
        again = client.receive_until(er(cl_ord_id, "I"))
        resent = [m for m in again if m.get(43) == "Y"]
        assert [(m[150], m[17]) for m in resent] == [(m[150], m[17]) for m in first if m.get(35) == "8"][-2:]
        assert all(122 in m for m in resent)  # OrigSendingTime: when it was first sent
        resend_requests = FixMessage.objects.filter(session=comp_id, direction="in", msg_type="2")
        deadline = time.monotonic() + 5
        while not resend_requests.exists():
            assert time.monotonic() < deadline, "the ResendRequest is not in the message log"
            time.sleep(0.1)
    finally:
        client.stop()


def test_a_session_added_in_admin_logs_on_and_one_switched_off_is_logged_out_until_switched_on(stack, tmp_path):
    comp_id = new_session(ACCOUNT)
    client = FixClient(comp_id, "OMS", stack.gateway.port, tmp_path)
    try:
        client.start()
        cl_ord_id = new_id()
        client.send("D", {11: cl_ord_id, 55: "AMZN", 54: "1", 38: "1", 40: "2", 44: "100", 59: "0"})
        report = client.receive_until(er(cl_ord_id, "A"))[-1]
        assert report[1] == ACCOUNT  # its default account
        committed("UPDATE gateway_clientsession SET active = false WHERE comp_id = %s", comp_id)
        deadline = time.monotonic() + 15
        while client.app.logged_on:
            assert time.monotonic() < deadline, "still logged on"
            time.sleep(0.1)
        time.sleep(2.5)  # it tries again every second, and is refused
        assert not client.app.logged_on
        committed("UPDATE gateway_clientsession SET active = true WHERE comp_id = %s", comp_id)
        deadline = time.monotonic() + 15
        while not client.app.logged_on:  # switched on again: let in, on the acceptor it had
            assert time.monotonic() < deadline, "not let in again"
            time.sleep(0.1)
    finally:
        client.stop()


def test_a_session_with_cancel_on_disconnect_has_its_working_orders_canceled_when_it_drops(stack, tmp_path):
    comp_id = new_session(ACCOUNT, cancel_on_disconnect=True, grace_seconds=1)
    client = FixClient(comp_id, "OMS", stack.gateway.port, tmp_path)
    try:
        client.start()
        cl_ord_id = new_id()
        client.send("D", {11: cl_ord_id, 55: "NVDA", 54: "1", 38: "2", 40: "2", 44: "9", 59: "0", 100: "TGQUIET"})
        order_id = int(client.receive_until(er(cl_ord_id, "0"))[-1][37])
    finally:
        client.stop()  # drops the connection
    canceled = wait_order(order_id, status_is("canceled"), timeout=20)
    assert canceled.cum_qty == 0


def test_a_kill_switch_on_its_account_logs_a_session_out_and_keeps_it_out_until_released(stack, tmp_path):
    account = f"R-{uuid.uuid4().hex[:8]}"
    committed("INSERT INTO orders_account (code, name, active) VALUES (%s, %s, true)", account, "gateway test")
    comp_id = new_session(account)
    client = FixClient(comp_id, "OMS", stack.gateway.port, tmp_path)
    try:
        client.start()
        answer = bus.send(cmd.EngageKillSwitch(bus.new_command_id(), time.time_ns(), "user:risk", "account", account,
                                               "runaway algo"), timeout=10)  # fmt: skip
        assert answer["outcome"] == "accepted", answer
        deadline = time.monotonic() + 15
        while client.app.logged_on:
            assert time.monotonic() < deadline, "still logged on"
            time.sleep(0.1)
        time.sleep(3)  # it tries again, and is refused
        assert not client.app.logged_on
        answer = bus.send(cmd.ReleaseKillSwitch(bus.new_command_id(), time.time_ns(), "user:risk", "account", account,
                                                "fixed"), timeout=10)  # fmt: skip
        assert answer["outcome"] == "accepted", answer
        deadline = time.monotonic() + 15
        while not client.app.logged_on:
            assert time.monotonic() < deadline, "not let in again"
            time.sleep(0.1)
    finally:
        client.stop()


def test_messages_over_the_sessions_rate_are_refused_not_processed(stack, tmp_path):
    comp_id = new_session(ACCOUNT, max_messages_per_second=5)
    client = FixClient(comp_id, "OMS", stack.gateway.port, tmp_path)
    try:
        client.start()
        for _ in range(8):
            client.send("H", {11: "NO-SUCH", 55: "AMZN", 54: "1"})
        answers = [client.receive() for _ in range(8)]
        assert sorted(m[35] for m in answers) == ["8"] * 5 + ["j"] * 3
        assert all("throttled" in m[58] for m in answers if m[35] == "j")
    finally:
        client.stop()


def new_session(account: str, *, cancel_on_disconnect: bool = False, grace_seconds: int = 0,
                max_messages_per_second: int = 100) -> str:  # fmt: skip
    """A client session of its own trading `account`, committed for the gateway to see; its CompID."""
    comp_id = f"C{uuid.uuid4().hex[:6].upper()}"
    committed("INSERT INTO gateway_clientsession (comp_id, description, allowed_addresses, cancel_on_disconnect,"
              " grace_seconds, max_messages_per_second, active, default_account_id) VALUES (%s, '', '', %s, %s,"
              " %s, true, %s)", comp_id, cancel_on_disconnect, grace_seconds, max_messages_per_second,
              account)  # fmt: skip
    committed("INSERT INTO gateway_clientsession_accounts (clientsession_id, account_id) SELECT s.id, a.id"
              " FROM gateway_clientsession s, orders_account a WHERE s.comp_id = %s AND a.code = %s",
              comp_id, account)  # fmt: skip
    return comp_id
