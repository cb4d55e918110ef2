"""The end-of-day report of one trading day, per account: orders by status, fills with their
quantities and notional, positions, open reconciliation breaks. Pure: the service reads the
projections into these rows, this module adds them up and lays them out (JSON and CSV).

Which orders: the account's client orders (children are the OMS's working of a parent: their
fills are the parent's, counted once there) taken on the day, by status as the report finds
them; and, apart, the orders still open from earlier days (GTC orders carried). Which fills: those
executed during the day on client orders, busted ones left out (they never happened). Positions:
the account's net positions when the report is made.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

REPORT_VERSION = 1
ZERO = Decimal(0)
CSV_COLUMNS = ("trading_day", "account", "section", "key", "count", "quantity", "price", "notional", "text")


@dataclass(frozen=True)
class OrderRow:
    order_id: int
    cl_ord_id: str
    symbol: str
    side: str
    status: str
    time_in_force: str
    quantity: Decimal
    cum_qty: Decimal
    trading_day: date


@dataclass(frozen=True)
class FillRow:
    order_id: int
    symbol: str
    side: str
    last_qty: Decimal
    last_px: Decimal


@dataclass(frozen=True)
class PositionRow:
    symbol: str
    quantity: Decimal
    avg_cost: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True)
class BreakRow:
    """A reconciliation break still open (issue 9 part 3's projection, as the service reads it)."""

    break_id: str
    venue: str
    symbol: str
    oms_quantity: Decimal | None
    venue_quantity: Decimal | None
    opened_at: str
    text: str


@dataclass(frozen=True)
class AccountDay:
    account: str
    orders: list[OrderRow]  # taken on the day
    carried: list[OrderRow]  # still open from earlier days
    fills: list[FillRow]
    positions: list[PositionRow]
    breaks: list[BreakRow]

    @property
    def is_empty(self) -> bool:
        return not (self.orders or self.carried or self.fills or any(p.quantity for p in self.positions)
                    or self.breaks)  # fmt: skip


def account_section(day: AccountDay) -> dict[str, Any]:
    """One account's part of the report, JSON-ready (decimals as strings)."""
    by_status = Counter(order.status for order in day.orders)
    fills: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: {"count": ZERO, "quantity": ZERO,
                                                                            "notional": ZERO})  # fmt: skip
    for fill in day.fills:
        figures = fills[(fill.symbol, fill.side)]
        figures["count"] += 1
        figures["quantity"] += fill.last_qty
        figures["notional"] += fill.last_qty * fill.last_px
    bought = sum((f.last_qty for f in day.fills if f.side == "buy"), ZERO)
    sold = sum((f.last_qty for f in day.fills if f.side != "buy"), ZERO)
    notional = sum((f.last_qty * f.last_px for f in day.fills), ZERO)
    return {
        "account": day.account,
        "orders": {"total": len(day.orders), "by_status": dict(sorted(by_status.items()))},
        "carried_open_orders": [
            {
                "order_id": o.order_id,
                "cl_ord_id": o.cl_ord_id,
                "symbol": o.symbol,
                "side": o.side,
                "status": o.status,
                "time_in_force": o.time_in_force,
                "quantity": _text(o.quantity),
                "cum_qty": _text(o.cum_qty),
                "trading_day": o.trading_day.isoformat(),
            }
            for o in day.carried
        ],
        "fills": {
            "count": len(day.fills),
            "bought": _text(bought),
            "sold": _text(sold),
            "notional": _text(notional),
            "by_symbol": [
                {
                    "symbol": symbol,
                    "side": side,
                    "count": int(f["count"]),
                    "quantity": _text(f["quantity"]),
                    "notional": _text(f["notional"]),
                    "avg_px": _text(f["notional"] / f["quantity"]) if f["quantity"] else "0",
                }
                for (symbol, side), f in sorted(fills.items())
            ],
        },
        "positions": [
            {
                "symbol": p.symbol,
                "quantity": _text(p.quantity),
                "avg_cost": _text(p.avg_cost),
                "realized_pnl": _text(p.realized_pnl),
            }
            for p in day.positions
            if p.quantity or p.realized_pnl
        ],
        "open_breaks": [
            {
                "break_id": b.break_id,
                "venue": b.venue,
                "symbol": b.symbol,
                "oms_quantity": _text(b.oms_quantity),
                "venue_quantity": _text(b.venue_quantity),
                "opened_at": b.opened_at,
                "text": b.text,
            }
            for b in day.breaks
        ],
    }


def report(trading_day: date, generated_at: datetime, days: Iterable[AccountDay], notes: list[str]) -> dict[str, Any]:
    """The whole report: every account with anything to show, in account order."""
    accounts = [account_section(day) for day in sorted(days, key=lambda d: d.account) if not day.is_empty]
    return {
        "report": "end_of_day",
        "version": REPORT_VERSION,
        "trading_day": trading_day.isoformat(),
        "generated_at": generated_at.isoformat(),
        "notes": notes,
        "accounts": accounts,
    }


def csv_text(content: dict[str, Any]) -> str:
    """The report as CSV: one row per figure, the sections one after the other (CSV_COLUMNS)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    day = content["trading_day"]
    for section in content["accounts"]:
        account = section["account"]
        orders = section["orders"]
        writer.writerow([day, account, "orders", "total", orders["total"], "", "", "", ""])
        for status, count in orders["by_status"].items():
            writer.writerow([day, account, "orders", status, count, "", "", "", ""])
        for o in section["carried_open_orders"]:
            writer.writerow([day, account, "carried_open_order", o["order_id"], "", o["quantity"], "", "",
                             f"{o['cl_ord_id']} {o['side']} {o['symbol']} {o['time_in_force']} {o['status']} "
                             f"since {o['trading_day']}"])  # fmt: skip
        fills = section["fills"]
        writer.writerow([day, account, "fills", "total", fills["count"], "", "", fills["notional"],
                         f"bought {fills['bought']} sold {fills['sold']}"])  # fmt: skip
        for f in fills["by_symbol"]:
            writer.writerow([day, account, "fills", f"{f['symbol']} {f['side']}", f["count"], f["quantity"],
                             f["avg_px"], f["notional"], ""])  # fmt: skip
        for p in section["positions"]:
            writer.writerow([day, account, "position", p["symbol"], "", p["quantity"], p["avg_cost"], "",
                             f"realized P&L {p['realized_pnl']}"])  # fmt: skip
        for b in section["open_breaks"]:
            writer.writerow([day, account, "open_break", b["break_id"], "", b["oms_quantity"], "", "",
                             f"{b['venue']} {b['symbol']}: venue {b['venue_quantity']}; {b['text']}"])  # fmt: skip
    return out.getvalue()


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")  # plain digits, no trailing zeros
