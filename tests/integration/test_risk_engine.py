"""The pre-trade gate and the kill switch in the running engine: commands over the real bus, a real
engine process, and for the kill switch two simulated venues over FIX with the real connector.

Each test makes its own account (and where it needs one, its own instrument and book), so the
usage other tests leave behind never counts against its limits.
"""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal

import pytest
from conftest import new_cl_ord_id
from venue_stack import Connector, Simulator, committed, status_is, wait_order

from orders import bus, venue_feed
from orders.domain import commands as cmd
from orders.domain.values import OrderType, Side, Strategy, TimeInForce
from orders.engine.reference import RELOAD_MIN_SECONDS
from orders.models import Event, Order
from venues.models import Venue

HELD = "HELD"
# The engine rereads reference data when a command names an account or instrument it does not know,
# at most every RELOAD_MIN_SECONDS: a test's new rows wait that long to be sure they are seen.
SEEN = RELOAD_MIN_SECONDS + 0.05


def new_account(**limits: str) -> str:
    code = f"R-{uuid.uuid4().hex[:8]}"
    committed("INSERT INTO orders_account (code, name, active) VALUES (%s, %s, true)", code, "risk test")
    time.sleep(SEEN)
    if limits:
        answer = send(cmd.ChangeRiskLimits(*stamp("user:risk"), code, None, tuple(limits.items()), "test limits"))
        assert answer["outcome"] == "accepted", answer
    return code


def new_instrument(bid: str, ask: str, venue: str = HELD, **controls: str) -> str:
    """An instrument of its own, quoted on `venue` (HELD: a logged-on venue) at bid/ask."""
    symbol = f"Z{uuid.uuid4().hex[:6].upper()}"
    committed(
        "INSERT INTO orders_instrument (symbol, description, tick_size, lot_size, currency, asset_class, active,"
        " restricted) VALUES (%s, '', 0.01, 1, 'USD', 'equity', true, false)",
        symbol,
    )
    venue_feed.publish_book(venue, symbol, [(Decimal(bid), Decimal(100))], [(Decimal(ask), Decimal(100))])
    time.sleep(SEEN)
    if controls:
        answer = send(cmd.ChangeInstrumentRisk(*stamp("user:risk"), symbol, tuple(controls.items()), "test"))
        assert answer["outcome"] == "accepted", answer
    return symbol


def stamp(actor: str = "user:trader") -> tuple[str, int, str]:
    return bus.new_command_id(), time.time_ns(), actor


def send(command: cmd.Command) -> dict:
    return bus.send(command, timeout=10)


def order(account: str, symbol: str, quantity: str = "10", price: str | None = "100.00", side: Side = Side.BUY,
          venue: str | None = HELD, actor: str = "user:trader") -> dict:  # fmt: skip
    return send(cmd.SubmitOrder(
        *stamp(actor), account=account, cl_ord_id=new_cl_ord_id("R"), symbol=symbol, side=side,
        quantity=Decimal(quantity), order_type=OrderType.LIMIT if price else OrderType.MARKET,
        time_in_force=TimeInForce.DAY, limit_price=Decimal(price) if price else None, venue=venue,
    ))  # fmt: skip


def engage(scope: str, target: str | None = None, reason: str = "test") -> dict:
    return send(cmd.EngageKillSwitch(*stamp("user:risk"), scope, target, reason))


def release(scope: str, target: str | None = None) -> dict:
    return send(cmd.ReleaseKillSwitch(*stamp("user:risk"), scope, target, "test over"))


# -- the price band and the reference ------------------------------------------------------------


def test_a_fat_finger_price_is_rejected_naming_the_reference_it_was_checked_against(engine_process):
    account = new_account()
    symbol = new_instrument("99.90", "100.10", price_band_pct="10")

    at_edge = order(account, symbol, price="110.00")  # 10% above the mid of 100.00: the edge passes
    fat = order(account, symbol, price="110.01")

    assert at_edge["outcome"] == "accepted", at_edge
    assert (fat["outcome"], fat["reason"]) == ("rejected", "price_band"), fat
    assert "110.01" in fat["text"] and "100" in fat["text"]
    rejected = Event.objects.get(stream_id=fat["order_id"], event_type="OrderRejected")
    details = dict(rejected.payload["details"])
    assert Decimal(details["reference_price"]) == Decimal("100.00")
    accepted = Event.objects.get(stream_id=at_edge["order_id"], event_type="OrderAccepted")
    assert Decimal(accepted.payload["risk"]["reference_price"]) == Decimal("100.00")
    assert accepted.payload["risk"]["reference_age_ms"] is not None


def test_no_reference_and_a_stale_one_reject(engine_process):
    account = new_account()
    unquoted = f"Z{uuid.uuid4().hex[:6].upper()}"
    committed(
        "INSERT INTO orders_instrument (symbol, description, tick_size, lot_size, currency, asset_class, active,"
        " restricted) VALUES (%s, '', 0.01, 1, 'USD', 'equity', true, false)",
        unquoted,
    )
    time.sleep(SEEN)
    # Quoted by a venue whose session is not up: its book counts as of its own time and ages. (A
    # quiet book on a venue that is up counts as of the session's last word, refreshed every
    # beat: HELD's would read fresh, or even newer than an order stamped just before a beat.)
    stale = new_instrument("99.90", "100.10", venue="NOSESSION", max_reference_age_s="0.001")

    assert order(account, unquoted)["reason"] == "no_reference"
    answer = order(account, stale)
    assert answer["reason"] == "stale_reference", answer
    assert "old" in answer["text"]


def test_a_restricted_instrument_is_refused_and_the_change_is_audited(engine_process):
    account = new_account()
    symbol = new_instrument("99.90", "100.10", restricted="true")

    assert order(account, symbol)["reason"] == "restricted_instrument"
    change = Event.objects.filter(event_type="InstrumentRiskChanged", payload__symbol=symbol).get()
    assert change.actor == "user:risk" and change.payload["reason"] == "test"
    assert change.payload["changes"] == [{"name": "restricted", "old": "false", "new": "true"}]


# -- limits ----------------------------------------------------------------------------------------


def test_two_hundred_orders_from_twenty_clients_never_overshoot_a_position_limit(engine_process):
    account = new_account(max_position_qty="1000")
    symbol = new_instrument("99.90", "100.10")
    answers: list[dict] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(10):
            answer = order(account, symbol, quantity="10", price=f"{Decimal('99.00') + Decimal(len(answers)) / 100}")
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=client) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    accepted = [a for a in answers if a["outcome"] == "accepted"]
    refused = [a for a in answers if a["outcome"] == "rejected"]
    assert len(answers) == 200
    assert len(accepted) == 100  # exactly up to the limit: 100 x 10 = 1000 pending, none past it
    assert {a["reason"] for a in refused} == {"position_limit"}
    assert "1000" in refused[0]["text"] and "pending" in refused[0]["text"]
    pending = sum(o.leaves_qty for o in Order.objects.filter(account_id=account, status="pending_new"))
    assert pending == 1000


def test_a_limit_change_is_recorded_with_old_and_new_values_who_and_why(engine_process):
    account = new_account(max_order_qty="500")
    answer = send(cmd.ChangeRiskLimits(*stamp("user:risk"), account, None, (("max_order_qty", "50"),), "tighter"))
    assert answer["outcome"] == "accepted"

    events = Event.objects.filter(event_type="RiskLimitsChanged", account=account).order_by("position")
    assert [e.payload["changes"] for e in events] == [
        [{"name": "max_order_qty", "old": None, "new": "500"}],
        [{"name": "max_order_qty", "old": "500", "new": "50"}],
    ]
    assert events.last().payload["reason"] == "tighter" and events.last().actor == "user:risk"
    symbol = new_instrument("99.90", "100.10")
    refused = order(account, symbol, quantity="51")
    assert (refused["reason"], order(account, symbol, quantity="50")["outcome"]) == ("max_order_qty", "accepted")
    missing = send(cmd.ChangeRiskLimits(*stamp("user:risk"), account, None, (("max_order_qty", "5"),), " "))
    assert missing["reason"] == "missing_reason"


# -- the kill switch ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(engine_process, django_db_blocker):
    """Two quiet simulated venues (no market makers: resting orders stay) and the connector."""
    with django_db_blocker.unblock():
        simulators = [Simulator("KSA", "--no-liquidity"), Simulator("KSB", "--no-liquidity")]
        for sim in simulators:
            sim.start()
            Venue.objects.update_or_create(
                name=sim.name, defaults={"port": sim.port, "target_comp_id": sim.name, "active": True}
            )
        connector = Connector([s.name for s in simulators], resync_seconds=3)
        connector.start()
        connector.wait_logged_on()
        try:
            yield simulators, connector
        finally:
            connector.stop()
            for sim in simulators:
                sim.stop()
            Venue.objects.filter(name__in=[s.name for s in simulators]).update(active=False)


VENUE_SYMBOL = "MSFT"  # the simulators list the demo instruments only; HELD quotes its reference


@pytest.fixture
def venues(stack) -> list[Simulator]:
    return stack[0]


def live_at(venues: list[Simulator], account: str, symbol: str, count: int) -> list[int]:
    ids = []
    for i in range(count):
        answer = order(account, symbol, price=f"{Decimal('95.00') + Decimal(i % 50) / 10}", venue=venues[i % 2].name)
        assert answer["outcome"] == "accepted", answer
        ids.append(answer["order_id"])
    for order_id in ids:
        wait_order(order_id, status_is("new"))
    return ids


def wait_all(ids: list[int], status: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while Order.objects.filter(id__in=ids, status=status).count() < len(ids):
        assert time.monotonic() < deadline, (
            Order.objects.filter(id__in=ids).exclude(status=status).values_list("id", "status")[:5]
        )
        time.sleep(0.1)


def test_the_firm_kill_switch_cancels_every_live_order_at_both_venues_and_refuses_new_ones(venues):
    account = new_account()
    symbol = VENUE_SYMBOL
    ids = live_at(venues, account, symbol, 100)
    try:
        engaged = engage("firm", reason="runaway algo")
        assert engaged["outcome"] == "accepted", engaged
        asked = int(engaged["text"].split("; ")[1].split()[0])  # "N live order(s) asked to cancel"
        assert asked >= 100  # ours, and whatever other tests left live (HELD never answers)
        refused = order(account, symbol, venue=venues[0].name)
        assert refused["reason"] == "kill_switch" and "runaway algo" in refused["text"]
        wait_all(ids, "canceled")
        # Canceled by the venues' own reports (under the mass cancel), not by the OMS alone.
        canceled_by = set(
            Event.objects.filter(stream_id__in=ids, event_type="OrderCanceled").values_list("actor", flat=True)
        )
        assert canceled_by == {f"venue:{v.name}" for v in venues}
    finally:
        release("firm")
    assert order(account, symbol, venue=venues[1].name)["outcome"] == "accepted"


def test_an_account_switch_halts_only_that_account_and_a_cancel_still_passes(venues):
    halted, other = new_account(), new_account()
    symbol = VENUE_SYMBOL
    mine = live_at(venues, halted, symbol, 4)
    theirs = live_at(venues, other, symbol, 2)
    try:
        assert engage("account", halted)["outcome"] == "accepted"
        wait_all(mine, "canceled")
        assert order(halted, symbol)["reason"] == "kill_switch"
        assert order(other, symbol)["outcome"] == "accepted"
        assert set(Order.objects.filter(id__in=theirs).values_list("status", flat=True)) == {"new"}
        cancel = send(cmd.CancelOrder(*stamp(), other, theirs[0], new_cl_ord_id("X"), "x"))
        assert cancel["outcome"] == "accepted"
    finally:
        release("account", halted)


def test_with_a_venue_down_its_orders_are_canceled_when_it_comes_back(venues):
    account = new_account()
    symbol = VENUE_SYMBOL
    ids = live_at(venues, account, symbol, 6)
    down, up = venues[1], venues[0]
    down_ids = list(Order.objects.filter(id__in=ids, venue=down.name).values_list("id", flat=True))
    up_ids = list(Order.objects.filter(id__in=ids, venue=up.name).values_list("id", flat=True))
    down.stop()
    try:
        assert engage("account", account)["outcome"] == "accepted"
        wait_all(up_ids, "canceled")
        assert set(Order.objects.filter(id__in=down_ids).values_list("status", flat=True)) == {"pending_cancel"}
        assert order(account, symbol, venue=down.name)["reason"] in ("kill_switch", "venue_unavailable")
        down.start()
        wait_all(down_ids, "canceled", timeout=40)
    finally:
        if down.process is None or down.process.poll() is not None:
            down.start()
        release("account", account)


def test_an_engaged_switch_survives_an_engine_restart(engine_process):
    account = new_account()
    symbol = new_instrument("99.90", "100.10")
    assert engage("account", account, reason="survives")["outcome"] == "accepted"
    try:
        engine_process.stop()
        engine_process.start()
        venue_feed.publish_book(HELD, symbol, [(Decimal("99.90"), Decimal(1))], [(Decimal("100.10"), Decimal(1))])
        refused = order(account, symbol)
        assert refused["reason"] == "kill_switch" and "survives" in refused["text"]
    finally:
        release("account", account)
    assert order(account, symbol)["outcome"] == "accepted"


def test_the_duplicate_order_check_with_its_real_default(engine_process):
    """The order-core tests run the engine with the check widened; here it has its default (5 in 1 s)."""
    engine_process.stop()
    engine_process.start(env={"OMS_RISK_DUPLICATE_MAX": "5"})
    try:
        account = new_account()
        symbol = new_instrument("99.90", "100.10")
        answers = [order(account, symbol, quantity="7", price="100.00") for _ in range(6)]
        assert [a["outcome"] for a in answers[:5]] == ["accepted"] * 5
        assert answers[5]["reason"] == "duplicate_order", answers[5]
        assert order(account, symbol, quantity="8", price="100.00")["outcome"] == "accepted"  # not the same order
    finally:
        engine_process.stop()
        engine_process.start()


def test_a_venue_switch_halts_that_venue_only_and_parents_route_around_it(venues):
    account = new_account()
    halted, open_venue = venues[0].name, venues[1].name
    ids = live_at(venues, account, VENUE_SYMBOL, 4)
    at_halted = list(Order.objects.filter(id__in=ids, venue=halted).values_list("id", flat=True))
    at_open = list(Order.objects.filter(id__in=ids, venue=open_venue).values_list("id", flat=True))
    try:
        assert engage("venue", halted)["outcome"] == "accepted"
        wait_all(at_halted, "canceled")
        assert set(Order.objects.filter(id__in=at_open).values_list("status", flat=True)) == {"new"}
        assert order(account, VENUE_SYMBOL, venue=halted)["reason"] == "kill_switch"
        assert order(account, VENUE_SYMBOL, venue=open_venue)["outcome"] == "accepted"
        parent = send(cmd.SubmitOrder(
            *stamp(), account=account, cl_ord_id=new_cl_ord_id("P"), symbol=VENUE_SYMBOL, side=Side.BUY,
            quantity=Decimal(20), order_type=OrderType.LIMIT, time_in_force=TimeInForce.DAY,
            limit_price=Decimal("95.00"), strategy=Strategy.SLICES, slices=2, venues=(halted, open_venue),
        ))  # fmt: skip
        assert parent["outcome"] == "accepted", parent
        children = Order.objects.filter(parent_id=parent["order_id"])
        assert set(children.values_list("venue", flat=True)) == {open_venue}
    finally:
        release("venue", halted)


def test_a_parent_in_scope_ends_canceled_with_its_children(venues):
    account = new_account()
    parent = send(cmd.SubmitOrder(
        *stamp(), account=account, cl_ord_id=new_cl_ord_id("P"), symbol=VENUE_SYMBOL, side=Side.BUY,
        quantity=Decimal(40), order_type=OrderType.LIMIT, time_in_force=TimeInForce.DAY,
        limit_price=Decimal("95.00"), strategy=Strategy.SLICES, slices=4, venues=tuple(v.name for v in venues),
    ))  # fmt: skip
    assert parent["outcome"] == "accepted", parent
    children = list(Order.objects.filter(parent_id=parent["order_id"]).values_list("id", flat=True))
    assert len(children) == 4
    for child in children:
        wait_order(child, status_is("new"))
    try:
        engaged = engage("account", account)
        assert "1 live order" in engaged["text"], engaged  # the parent counts once
        wait_all(children, "canceled")
        wait_order(parent["order_id"], status_is("canceled"))
    finally:
        release("account", account)


def test_a_trader_switch_halts_that_traders_orders_only(venues):
    account = new_account()
    mine = order(account, VENUE_SYMBOL, price="95.00", venue=venues[0].name, actor="user:alice")
    theirs = order(account, VENUE_SYMBOL, price="95.00", venue=venues[0].name, actor="user:bob")
    wait_order(mine["order_id"], status_is("new"))
    wait_order(theirs["order_id"], status_is("new"))
    try:
        assert engage("trader", "alice")["outcome"] == "accepted"
        wait_order(mine["order_id"], status_is("canceled"))
        assert order(account, VENUE_SYMBOL, price="95.00", actor="user:alice")["reason"] == "kill_switch"
        assert Order.objects.get(id=theirs["order_id"]).status == "new"
        assert order(account, VENUE_SYMBOL, price="95.00", venue=venues[0].name, actor="user:bob")["outcome"] == (
            "accepted"
        )
    finally:
        release("trader", "alice")


def test_an_order_accepted_but_not_yet_sent_is_canceled_locally_never_sent(stack):
    """The connector dies (no word to anyone) right after the engine took two orders; the switch is
    engaged before it is back. Coming back, it finds them halted: they never reach the venue."""
    venues, connector = stack
    account = new_account()
    connector.kill()  # the engine still believes the sessions up for 3 s
    ids = [order(account, VENUE_SYMBOL, price="95.00", venue=venues[0].name)["order_id"] for _ in range(2)]
    try:
        assert engage("account", account)["outcome"] == "accepted"
        connector.start()
        connector.wait_logged_on()
        wait_all(ids, "canceled")
        canceled = Event.objects.filter(stream_id__in=ids, event_type="OrderCanceled")
        assert all("withheld" in e.payload["exec_id"] for e in canceled)
        assert not Event.objects.filter(stream_id__in=ids, event_type="OrderAcknowledged").exists()
    finally:
        release("account", account)
