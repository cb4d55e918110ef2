"""Drive one order through the real `decide` and `fold.apply`, as the engine would.

`OrderDriver` keeps the order's state and its event log; every method sends one real
command. `drive_to(status)` builds an order in a given status from real commands, for the
tests that need a starting point.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from itertools import count

from hypothesis import HealthCheck, settings

from orders.domain import commands as cmd
from orders.domain import events as ev
from orders.domain.decide import decide
from orders.domain.fold import apply
from orders.domain.state import OrderState
from orders.domain.values import ExecType, OrderType, OrdStatus, RequestKind, Side, TimeInForce
from risk.domain import Denial

ORDER_ID = 7
ACCOUNT = "ACC-1"
SYMBOL = "ACME"
QUANTITY = Decimal("100")
PRICE = Decimal("10.00")
START_NS = 1_732_550_400_000_000_000

# Moderate, so the unit suite runs before every commit; no deadline, so a slow CI machine
# does not turn timing into flakiness.
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class OrderDriver:
    def __init__(self) -> None:
        self.state: OrderState | None = None
        self.events: list[ev.Event] = []
        self._ids = count(1)
        self._clock = count(START_NS, 1_000)

    # -- plumbing -----------------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    def now(self) -> int:
        return next(self._clock)

    def send(self, command: cmd.Command, *, denial: Denial | None = None) -> list[ev.Event]:
        """decide, then apply every event, as the engine does in one transaction."""
        new_order_id = ORDER_ID if isinstance(command, cmd.SubmitOrder) else None
        events = decide(self.state, command, new_order_id=new_order_id, denial=denial)
        for event in events:
            self.state = apply(self.state, event)
        self.events.extend(events)
        return events

    @property
    def order(self) -> OrderState:
        assert self.state is not None, "submit first"
        return self.state

    # -- the client's commands ----------------------------------------------------------
    def submit(
        self,
        *,
        quantity: Decimal = QUANTITY,
        order_type: OrderType = OrderType.LIMIT,
        limit_price: Decimal | None = PRICE,
        side: Side = Side.BUY,
        denial: Denial | None = None,
    ) -> list[ev.Event]:
        command = cmd.SubmitOrder(
            command_id=self.next_id("cmd"),
            received_at_ns=self.now(),
            actor="user:trader",
            account=ACCOUNT,
            cl_ord_id=self.next_id("C"),
            symbol=SYMBOL,
            side=side,
            quantity=quantity,
            order_type=order_type,
            time_in_force=TimeInForce.DAY,
            limit_price=limit_price if order_type is OrderType.LIMIT else None,
        )
        return self.send(command, denial=denial)

    def cancel(self, *, cl_ord_id: str | None = None) -> list[ev.Event]:
        command = cmd.CancelOrder(
            command_id=self.next_id("cmd"),
            received_at_ns=self.now(),
            actor="user:trader",
            account=ACCOUNT,
            order_id=ORDER_ID,
            cl_ord_id=cl_ord_id or self.next_id("X"),
            orig_cl_ord_id=self.order.cl_ord_id,
        )
        return self.send(command)

    def replace(
        self,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        cl_ord_id: str | None = None,
        denial: Denial | None = None,
    ) -> list[ev.Event]:
        command = cmd.ReplaceOrder(
            command_id=self.next_id("cmd"),
            received_at_ns=self.now(),
            actor="user:trader",
            account=ACCOUNT,
            order_id=ORDER_ID,
            cl_ord_id=cl_ord_id or self.next_id("R"),
            orig_cl_ord_id=self.order.cl_ord_id,
            quantity=quantity,
            limit_price=limit_price,
        )
        return self.send(command, denial=denial)

    # -- the venue's reports ------------------------------------------------------------
    def report_command(
        self,
        exec_type: ExecType,
        *,
        exec_id: str | None = None,
        last_qty: Decimal = Decimal(0),
        last_px: Decimal = Decimal(0),
        cl_ord_id: str | None = None,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        text: str = "",
        **more,  # any other field of the command (ref_exec_id, venue_order_id, cum_qty...)
    ) -> cmd.ApplyExecutionReport:
        return cmd.ApplyExecutionReport(
            command_id=self.next_id("cmd"),
            received_at_ns=self.now(),
            actor="venue:XSIM",
            order_id=ORDER_ID,
            exec_id=exec_id or self.next_id("E"),
            exec_type=exec_type,
            last_qty=last_qty,
            last_px=last_px,
            cl_ord_id=cl_ord_id,
            quantity=quantity,
            limit_price=limit_price,
            text=text,
            **more,
        )

    def report(self, exec_type: ExecType, **fields) -> list[ev.Event]:
        return self.send(self.report_command(exec_type, **fields))

    def ack(self, **fields) -> list[ev.Event]:
        return self.report(ExecType.NEW, **fields)

    def fill(self, last_qty: Decimal, last_px: Decimal = PRICE, **fields) -> list[ev.Event]:
        return self.report(ExecType.TRADE, last_qty=last_qty, last_px=last_px, **fields)

    def fill_rest(self, last_px: Decimal = PRICE) -> list[ev.Event]:
        return self.fill(self.order.quantity - self.order.cum_qty, last_px)

    def venue_cancel(self) -> list[ev.Event]:
        return self.report(ExecType.CANCELED)

    def venue_reject(self, text: str = "unknown symbol at venue") -> list[ev.Event]:
        return self.report(ExecType.REJECTED, text=text)

    def venue_replaced(self, **fields) -> list[ev.Event]:
        return self.report(ExecType.REPLACED, **fields)

    def expire(self) -> list[ev.Event]:
        return self.report(ExecType.EXPIRED)

    def venue_cancel_reject(
        self,
        *,
        cl_ord_id: str | None = None,
        reason: str = "too_late_to_cancel",
        response_to: RequestKind | None = None,
    ) -> list[ev.Event]:
        """35=9 for the pending request (or for `cl_ord_id`)."""
        if cl_ord_id is None:
            assert self.order.pending is not None, "nothing pending to reject"
            cl_ord_id = self.order.pending.cl_ord_id
        command = cmd.ApplyCancelReject(
            command_id=self.next_id("cmd"),
            received_at_ns=self.now(),
            actor="venue:XSIM",
            order_id=ORDER_ID,
            cl_ord_id=cl_ord_id,
            reason=reason,
            text="venue says no",
            response_to=response_to,
        )
        return self.send(command)


def drive_to(status: OrdStatus | None) -> OrderDriver:
    """An order of QUANTITY at PRICE in `status`, reached through real commands.

    Partial fills leave 40 filled; a pending replace asks for 150. SUSPENDED is not reachable
    through `decide` (nothing suspends): it is a new order with the status set by hand.
    """
    driver = OrderDriver()
    if status is None:
        return driver
    if status is OrdStatus.REJECTED:
        driver.submit(denial=Denial("unknown_symbol", "no such symbol"))
        return driver
    driver.submit()
    if status is OrdStatus.PENDING_NEW:
        return driver
    driver.ack()
    match status:
        case OrdStatus.NEW:
            pass
        case OrdStatus.PARTIALLY_FILLED:
            driver.fill(Decimal("40"))
        case OrdStatus.FILLED:
            driver.fill_rest()
        case OrdStatus.PENDING_CANCEL:
            driver.cancel()
        case OrdStatus.CANCELED:
            driver.cancel()
            driver.venue_cancel()
        case OrdStatus.PENDING_REPLACE:
            driver.replace(quantity=Decimal("150"))
        case OrdStatus.EXPIRED:
            driver.expire()
        case OrdStatus.DONE_FOR_DAY:
            driver.report(ExecType.DONE_FOR_DAY)
        case OrdStatus.SUSPENDED:
            driver.state = replace(driver.order, status=OrdStatus.SUSPENDED)
        case _:
            raise AssertionError(f"no route to {status}")
    assert driver.order.status is status
    return driver
