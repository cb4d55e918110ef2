"""The client gateway's translation: each event of a client's order as the report it gets, and the
reason tables against FIX 4.4's codes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from gateway.domain import tables
from gateway.domain.reports import ClientCancelReject, ClientReport, exec_id_of, refused_order, report_for
from gateway.domain.sessions import RateLimit, kill_switch_refusal
from orders.domain import events as ev
from orders.domain.fold import apply
from orders.domain.state import OrderState
from orders.domain.values import ExecType, OrderType, OrdStatus, RequestKind, Side, Strategy, TimeInForce
from venues.fix.config import data_dictionary

D = Decimal


def fix_codes(field_name: str) -> set[str]:
    field = ET.parse(data_dictionary()).getroot().find(f"fields/field[@name='{field_name}']")
    assert field is not None
    return {v.get("enum") for v in field.iter("value")}  # type: ignore[misc]


@pytest.mark.parametrize(
    ("table", "field_name"), [(tables.ORD_REJ_REASON, "OrdRejReason"), (tables.CXL_REJ_REASON, "CxlRejReason")]
)
def test_every_reason_code_is_one_fix_44_defines(table, field_name):
    assert set(table.values()) | {tables.OTHER} <= fix_codes(field_name)


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("unknown_symbol", "1"),
        ("duplicate", "6"),
        ("duplicate_cl_ord_id", "6"),
        ("price_band", "99"),
        ("kill_switch", "99"),
        ("position_limit", "99"),
        ("account_not_allowed", "99"),
        (None, "99"),
    ],
)
def test_ord_rej_reason(reason, code):
    assert tables.ord_rej_reason(reason) == code


@pytest.mark.parametrize(
    ("reason", "code"),
    [("too_late_to_cancel", "0"), ("too_late_to_replace", "0"), ("too_late", "0"), ("unknown_order", "1"),
     ("request_pending", "3"), ("message_rate", "99")],
)  # fmt: skip
def test_cxl_rej_reason(reason, code):
    assert tables.cxl_rej_reason(reason) == code


@pytest.mark.parametrize(
    ("poss_dup", "poss_resend", "resent"),
    [(None, None, False), ("N", "N", False), ("Y", None, True), (None, "Y", True)],
)
def test_possibly_resent(poss_dup, poss_resend, resent):
    assert tables.possibly_resent(poss_dup, poss_resend) is resent


# -- events to reports ----------------------------------------------------------------------------

ACCEPTED = ev.OrderAccepted(7, 1_000, "CLIENT-1", "C1", "AMZN", Side.BUY, D(100), OrderType.LIMIT, TimeInForce.DAY,
                            D(50), venue="SIMA")  # fmt: skip


def history(*events: ev.Event) -> list[tuple[ev.Event, OrderState | None, OrderState]]:
    state: OrderState | None = None
    out = []
    for event in events:
        before, state = state, apply(state, event)
        out.append((event, before, state))
    return out


def reports(*events: ev.Event) -> list[ClientReport | ClientCancelReject | None]:
    return [report_for(10 + i, event, before, after) for i, (event, before, after) in enumerate(history(*events))]


def test_accepted_acknowledged_filled_is_pending_new_new_partial_fill_fill():
    out = reports(
        ACCEPTED,
        ev.OrderAcknowledged(7, 2_000, "v1"),
        ev.OrderPartiallyFilled(7, 3_000, "v2", D(40), D(50)),
        ev.OrderFilled(7, 4_000, "v3", D(60), D(49)),
    )
    assert [(r.exec_type, r.ord_status) for r in out] == [  # type: ignore[union-attr]
        (ExecType.PENDING_NEW, OrdStatus.PENDING_NEW),
        (ExecType.NEW, OrdStatus.NEW),
        (ExecType.TRADE, OrdStatus.PARTIALLY_FILLED),
        (ExecType.TRADE, OrdStatus.FILLED),
    ]
    partial, filled = out[2], out[3]
    assert isinstance(partial, ClientReport) and isinstance(filled, ClientReport)
    assert (partial.last_qty, partial.last_px, partial.cum_qty, partial.leaves_qty) == (40, 50, 40, 60)
    assert (filled.cum_qty, filled.leaves_qty, filled.avg_px) == (100, 0, D("49.4"))
    assert [r.exec_id for r in out] == ["E10", "E11", "E12", "E13"]  # type: ignore[union-attr]
    assert all(r.order_id == "7" and r.cl_ord_id == "C1" for r in out)  # type: ignore[union-attr]
    assert filled.transact_ns == 4_000


def test_a_risk_rejection_carries_its_reason_code_and_text():
    rejected = ev.OrderRejected(8, 1_000, "CLIENT-1", "C2", "AMZN", Side.BUY, D(1), OrderType.LIMIT, TimeInForce.DAY,
                                D(500), "price_band", "price band 10% for AMZN: ...")  # fmt: skip
    (report,) = reports(rejected)
    assert isinstance(report, ClientReport)
    assert (report.exec_type, report.ord_status, report.ord_rej_reason) == (ExecType.REJECTED, OrdStatus.REJECTED,
                                                                            "99")  # fmt: skip
    assert report.text.startswith("price band")


def test_cancel_is_pending_cancel_then_canceled_with_the_clordid_chain():
    out = reports(ACCEPTED, ev.OrderAcknowledged(7, 2, "v1"), ev.OrderCancelRequested(7, 3, "X1", "C1"),
                  ev.OrderCanceled(7, 4, "v2"))  # fmt: skip
    pending, canceled = out[2], out[3]
    assert isinstance(pending, ClientReport) and isinstance(canceled, ClientReport)
    assert (pending.exec_type, pending.cl_ord_id, pending.orig_cl_ord_id) == (ExecType.PENDING_CANCEL, "X1", "C1")
    assert (canceled.exec_type, canceled.cl_ord_id, canceled.orig_cl_ord_id) == (ExecType.CANCELED, "X1", "C1")
    assert (canceled.ord_status, canceled.leaves_qty) == (OrdStatus.CANCELED, 0)


def test_the_closes_own_cancel_tells_the_client_why():
    text = "canceled at the close by the OMS: a DAY order the venue still showed working"
    asked = ev.OrderCancelRequested(7, 3, "EOD-7", "C1", text)
    pending = reports(ACCEPTED, ev.OrderAcknowledged(7, 2, "v1"), asked)[-1]
    assert isinstance(pending, ClientReport)
    assert (pending.exec_type, pending.cl_ord_id, pending.text) == (ExecType.PENDING_CANCEL, "EOD-7", text)


def test_an_unsolicited_cancel_names_the_order_itself():
    canceled = reports(ACCEPTED, ev.OrderAcknowledged(7, 2, "v1"), ev.OrderCanceled(7, 3, "v2"))[-1]
    assert isinstance(canceled, ClientReport)
    assert (canceled.cl_ord_id, canceled.orig_cl_ord_id) == ("C1", None)


def test_replace_is_pending_replace_then_replaced_with_the_new_size():
    out = reports(ACCEPTED, ev.OrderAcknowledged(7, 2, "v1"), ev.OrderReplaceRequested(7, 3, "R1", "C1", D(20), D(21)),
                  ev.OrderReplaced(7, 4, "v2", "R1", D(20), D(21)))  # fmt: skip
    pending, replaced = out[2], out[3]
    assert isinstance(pending, ClientReport) and isinstance(replaced, ClientReport)
    assert (pending.exec_type, pending.ord_status) == (ExecType.PENDING_REPLACE, OrdStatus.PENDING_REPLACE)
    assert (replaced.exec_type, replaced.cl_ord_id, replaced.orig_cl_ord_id) == (ExecType.REPLACED, "R1", "C1")
    assert (replaced.order_qty, replaced.price, replaced.ord_status) == (20, 21, OrdStatus.NEW)


def test_a_refused_cancel_is_an_order_cancel_reject():
    filled = ev.OrderFilled(7, 2, "v1", D(100), D(50))
    refused = ev.OrderCancelRejected(7, 3, "X1", "C1", "too_late_to_cancel", "too late to cancel: the order is filled")
    reject = reports(ACCEPTED, filled, refused)[-1]
    assert reject == ClientCancelReject("7", "X1", "C1", OrdStatus.FILLED, RequestKind.CANCEL, "0",
                                        "too late to cancel: the order is filled", "CLIENT-1")  # fmt: skip


def test_a_bust_names_the_clients_execid_of_the_fill():
    fill = ev.OrderPartiallyFilled(7, 2, "v1", D(40), D(50))
    bust = ev.FillBusted(7, 3, "v2", "v1", D(40), D(50), "busted")
    (_, _, _), (_, before, after) = history(ACCEPTED, fill, bust)[1:]
    report = report_for(99, bust, before, after, {"v1": exec_id_of(11)})
    assert isinstance(report, ClientReport)
    assert (report.exec_type, report.exec_ref_id, report.cum_qty) == (ExecType.TRADE_CANCEL, "E11", 0)


@pytest.mark.parametrize(
    ("event", "exec_type"),
    [(ev.OrderExpired(7, 2, "v1"), ExecType.EXPIRED), (ev.OrderDoneForDay(7, 2, "v1"), ExecType.DONE_FOR_DAY)],
)
def test_expired_and_done_for_day(event, exec_type):
    report = reports(ACCEPTED, event)[-1]
    assert isinstance(report, ClientReport) and report.exec_type is exec_type


def test_a_routing_decision_tells_the_client_nothing():
    parent = ev.OrderAccepted(9, 1, "CLIENT-1", "P1", "AMZN", Side.BUY, D(10), OrderType.LIMIT, TimeInForce.DAY,
                              D(50), strategy=Strategy.SLICES)  # fmt: skip
    routed = ev.OrderRouted(9, 1, Strategy.SLICES, (ev.RoutedChild(10, "SIMA", D(10)),), "one child")
    assert reports(parent, routed)[-1] is None


def test_a_refused_order_has_no_order_id():
    report = refused_order("R1", "C9", "DESK-EQ", "AMZN", Side.BUY, D(1), D(50), "account_not_allowed", "no", 5)
    assert (report.order_id, report.exec_type, report.ord_rej_reason) == ("NONE", ExecType.REJECTED, "99")


# -- sessions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("engaged", "refused"),
    [
        ([], None),
        ([("firm", "", "halt")], "kill switch engaged on the firm: halt"),
        ([("account", "CLIENT-1", "runaway")], "kill switch engaged on account CLIENT-1: runaway"),
        ([("account", "DESK-EQ", "x"), ("trader", "trader", "y"), ("venue", "SIMA", "z")], None),
    ],
)
def test_a_kill_switch_on_the_firm_or_one_of_its_accounts_keeps_a_session_out(engaged, refused):
    assert kill_switch_refusal(engaged, frozenset({"CLIENT-1"})) == refused


def test_the_rate_limit_allows_so_many_messages_in_any_second():
    limit = RateLimit(3)
    assert [limit.allow(t) for t in (0.0, 0.1, 0.2, 0.3, 0.9, 1.05, 1.15)] == [
        True, True, True, False, False, True, True,
    ]  # fmt: skip
