"""The kill switch drill (RTS 6 Art. 12: a kill switch is tested, not just configured), against a
running OMS: engine, venue connector and venues, as `make run` starts them.

It places resting limit orders for a drill account of its own (no limits, so the demo accounts'
usage is untouched) spread over the venues and symbols, away from the market so nothing fills;
waits until every one is acknowledged; engages the firm kill switch; and measures, from the
event log, how long after the engage each order was canceled by its venue's own report
(OrderCanceled with actor `venue:<name>`). The caller releases the switch in a `finally`.

It spans the whole stack (bus, projections, references, the connector's FIX log), so it lives
here with the other operational entry points, not in one app. Used by
`manage.py kill_switch_drill` and bench/kill_switch_drill.py.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

from django.conf import settings
from django.db.models import Count

from orders import bus, references, venue_feed
from orders.domain import commands as cmd
from orders.domain.values import LIVE_STATUSES, OrderType, OrdStatus, Side, TimeInForce
from orders.models import Account, Event, Instrument, Order
from orders.store import ORDER_STREAM
from risk import configuration
from risk.models import KillSwitch
from venues.fix.orders import parse_venue_cl_ord_id
from venues.models import Venue

DRILL_ACCOUNT = "DRILL"
AWAY_PCT = Decimal(5)  # buys this far below the reference, or half the price band if that is narrower
PRICE_STEPS = 20  # distinct prices per symbol, a tick apart: with quantities, no two orders are the same
QUANTITY_LOTS = 50  # quantities 1..50 lots: the duplicate order check never sees the same order twice
BATCH = 100  # orders put on the bus in one round trip
ENGINE_RELOAD_S = 0.3  # the engine rereads accounts at most every 0.25 s (orders/engine/reference.py)


class DrillError(Exception):
    """The drill cannot run or did not complete; the message says why, for the operator."""


# -- the plan: pure --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    symbol: str
    reference: Decimal
    tick: Decimal
    lot: Decimal
    band_pct: Decimal


@dataclass(frozen=True)
class Placement:
    symbol: str
    venue: str
    quantity: Decimal
    price: Decimal


def resting_price(quote: Quote, step: int) -> Decimal:
    """A buy price `step` ticks below AWAY_PCT (at most half the band) under the reference, on the
    tick grid, never further away than 90% of the band."""
    away = min(AWAY_PCT, quote.band_pct / 2)
    floor = quote.reference * (1 - quote.band_pct * Decimal("0.9") / 100)
    base = _on_grid(quote.reference * (1 - away / 100), quote.tick)
    price = base - quote.tick * step
    return price if price >= floor else base


def plan(count: int, venues: list[str], quotes: list[Quote]) -> list[Placement]:
    """`count` buys, round robin over the venues and, at each venue, over the symbols. No two in
    the same symbol have the same quantity and price (for up to QUANTITY_LOTS x PRICE_STEPS each)."""
    placements = []
    for i in range(count):
        at_venue = i // len(venues)  # the how-manieth at its venue
        quote = quotes[at_venue % len(quotes)]
        nth = at_venue // len(quotes) * len(venues) + i % len(venues)  # the how-manieth in its symbol
        quantity = quote.lot * (1 + nth % QUANTITY_LOTS)
        price = resting_price(quote, nth // QUANTITY_LOTS % PRICE_STEPS)
        placements.append(Placement(quote.symbol, venues[i % len(venues)], quantity, price))
    return placements


def _on_grid(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value(ROUND_FLOOR) * tick


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- what the connector sent: its quickfix message log ------------------------------------------------

_TAG = re.compile(r"(\d+)=([^\x01]*)")


class SentCancels:
    """Counts the cancels the connector sent to each venue after `mark()`, from the quickfix message
    log it keeps under var/<profile>/connector/log (as run_venues lays it out): OrderMassCancelRequest
    (35=q) and OrderCancelRequest (35=F) for the drill's orders. Only readable where the connector
    runs on this machine from this checkout; otherwise the counts are None."""

    def __init__(self, venues: list[str], log_dir: Path | None = None) -> None:
        log_dir = log_dir or Path(settings.BASE_DIR) / "var" / settings.SERVICES.profile / "connector" / "log"
        self.paths = {v: next(iter(sorted(log_dir.glob(f"FIX.4.4-*-{v}.messages.current.log"))), None) for v in venues}
        self.offsets: dict[str, int] = {}

    def mark(self) -> None:
        self.offsets = {v: p.stat().st_size for v, p in self.paths.items() if p is not None}

    def count(self, order_ids: set[int]) -> tuple[int, int] | None:
        """(mass cancel requests, single cancels of these orders) sent since `mark()`."""
        if not self.offsets or len(self.offsets) < len(self.paths):
            return None
        mass = single = 0
        for venue, offset in self.offsets.items():
            path = self.paths[venue]
            assert path is not None
            with open(path, "rb") as log:
                log.seek(offset)
                text = log.read().decode("ascii", "replace")
            for line in text.splitlines():
                fields = dict(_TAG.findall(line.partition(" : ")[2]))
                if fields.get("56") != venue:
                    continue  # the venue's messages to us
                if fields.get("35") == "q":
                    mass += 1
                elif fields.get("35") == "F":
                    named = parse_venue_cl_ord_id(fields.get("41"))
                    single += named is not None and named[0] in order_ids
        return mass, single


# -- the drill against the running OMS ------------------------------------------------------------------


@dataclass
class DrillResult:
    orders: int
    asked: int | None  # live orders the engage asked to cancel, firm-wide
    engage_answer_s: float
    last_cancel_s: float
    per_order_s: list[float]
    canceled_by: dict[str, int]  # actor -> orders
    sent: tuple[int, int] | None  # (35=q sent, 35=F sent for the drill's orders), None: unknown
    released: bool = False
    other_live: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def by_venues(self) -> int:
        return sum(n for actor, n in self.canceled_by.items() if actor.startswith("venue:"))

    def lines(self) -> list[str]:
        per = self.per_order_s
        out = [
            f"orders canceled by the venues' own reports: {self.by_venues:,} of {self.orders:,}"
            + "".join(f"  ({actor} {n:,})" for actor, n in sorted(self.canceled_by.items())),
            f"engage answered by the engine in {self.engage_answer_s * 1000:.1f} ms"
            + (f" ({self.asked:,} live order(s) asked to cancel firm-wide)" if self.asked is not None else ""),
            f"last cancel committed {self.last_cancel_s * 1000:.1f} ms after the engage",
            f"per order, engage -> canceled: p50 {percentile(per, 0.5) * 1000:.1f} ms  "
            f"p99 {percentile(per, 0.99) * 1000:.1f} ms  max {max(per) * 1000:.1f} ms",
        ]
        if self.sent is None:
            out.append("via mass cancel: unknown (no connector FIX log on this machine)")
        else:
            mass, single = self.sent
            out.append(f"via mass cancel: {self.orders - single:,} ({mass} OrderMassCancelRequest 35=q sent); "
                       f"one by one (35=F): {single:,}")  # fmt: skip
        return out + self.notes


def actor_of(username: str) -> str:
    return f"user:{username}"


class Drill:
    def __init__(
        self,
        *,
        orders: int,
        actor: str,
        venues: list[str] | None = None,
        symbols: list[str] | None = None,
        account: str = DRILL_ACCOUNT,
        timeout: float = 60.0,
        out: Callable[[str], None] = print,
    ) -> None:
        self.count = orders
        self.actor = actor
        self.account = account
        self.timeout = timeout
        self.out = out
        self.venues = self._venues(venues)
        self.quotes = self._quotes(symbols)
        self.order_ids: list[int] = []

    # -- before: what the drill needs -----------------------------------------------------------------

    def _venues(self, names: list[str] | None) -> list[str]:
        active = set(Venue.objects.filter(active=True).values_list("name", flat=True))
        names = names or sorted(active)
        inactive = set(names) - active
        if inactive:
            raise DrillError(f"venue(s) not configured or not active: {', '.join(sorted(inactive))}")
        if not names:
            raise DrillError("no active venue is configured")
        down = {v: s for v, s in venue_feed.read(names).items() if s["state"] != venue_feed.LOGGED_ON}
        if down:
            why = "; ".join(f"{v} ({s.get('detail') or s['state']})" for v, s in down.items())
            raise DrillError(f"the drill needs every venue it uses logged on; not: {why}")
        return names

    def _quotes(self, symbols: list[str] | None) -> list[Quote]:
        instruments = Instrument.objects.filter(active=True, restricted=False).order_by("symbol")
        if symbols:
            instruments = instruments.filter(symbol__in=symbols)
            missing = set(symbols) - {i.symbol for i in instruments}
            if missing:
                raise DrillError(f"symbol(s) unknown, inactive or restricted: {', '.join(sorted(missing))}")
        published = references.read()
        quotes, stale = [], []
        for instrument in instruments:
            risk = configuration.instrument_risk(instrument)
            quote = published.get(instrument.symbol) or {}
            age = quote.get("age_s")
            if quote.get("reference") is None or age is None or age > risk.max_reference_age_s / 2:
                stale.append(instrument.symbol)
                continue
            quotes.append(Quote(instrument.symbol, Decimal(quote["reference"]), instrument.tick_size,
                                instrument.lot_size, risk.price_band_pct))  # fmt: skip
        if not quotes or (symbols and stale):
            raise DrillError(f"no fresh reference price from the engine for {', '.join(stale) or 'any symbol'}: "
                             "is the engine running, with market data from the venues?")  # fmt: skip
        return quotes

    def prepare(self) -> None:
        """The drill account (made if missing), and no firm switch engaged by someone else."""
        if KillSwitch.objects.filter(scope="firm", engaged=True).exists():
            raise DrillError("the firm kill switch is already engaged: release it first (the drill would release it)")
        account, created = Account.objects.get_or_create(
            code=self.account, defaults={"name": "Kill switch drill (no limits)"}
        )
        if not account.active:
            raise DrillError(f"the drill account {self.account} is not active")
        if created:
            self.out(f"created the drill account {self.account}")
            time.sleep(ENGINE_RELOAD_S)  # the engine rereads accounts at most this often

    # -- placing ------------------------------------------------------------------------------------

    def place(self) -> list[int]:
        placements = plan(self.count, self.venues, self.quotes)
        per_venue = Counter(p.venue for p in placements)
        venues = ", ".join(f"{v} ({n:,})" for v, n in sorted(per_venue.items()))
        symbols = ", ".join(q.symbol for q in self.quotes)
        self.out(f"placing {self.count:,} resting buys for {self.account} over {venues} in {symbols}, "
                 f"{AWAY_PCT}% or more below the reference")  # fmt: skip
        tag = uuid.uuid4().hex[:8]
        started = time.monotonic()
        for first in range(0, len(placements), BATCH):
            batch = placements[first : first + BATCH]
            commands = [self._submit(f"KSD-{tag}-{first + i}", p) for i, p in enumerate(batch)]
            answers = bus.send_many(commands, timeout=self.timeout)
            for answer in answers:
                if answer["outcome"] == "accepted":
                    self.order_ids.append(answer["order_id"])
            refused = [a for a in answers if a["outcome"] != "accepted"]
            if refused:
                raise DrillError(f"{len(refused)} drill order(s) refused, e.g. {refused[0]['reason']}: "
                                 f"{refused[0]['text']}")  # fmt: skip
            self.out(f"  placed {len(self.order_ids):,}/{self.count:,} ({time.monotonic() - started:.1f} s)")
        return self.order_ids

    def _submit(self, cl_ord_id: str, p: Placement) -> cmd.SubmitOrder:
        return cmd.SubmitOrder(
            bus.new_command_id(), time.time_ns(), self.actor, self.account, cl_ord_id, p.symbol, Side.BUY,
            p.quantity, OrderType.LIMIT, TimeInForce.DAY, p.price, venue=p.venue,
        )  # fmt: skip

    def wait_acknowledged(self) -> None:
        """Every drill order resting at its venue (new). One that filled (the market moved 5%) is left out."""
        deadline = time.monotonic() + self.timeout
        last_said = 0.0
        while True:
            rows = Order.objects.filter(id__in=self.order_ids).order_by().values_list("status").annotate(n=Count("id"))
            statuses: Counter[str] = Counter(dict(rows))
            if statuses.get(OrdStatus.REJECTED, 0):
                raise DrillError(f"{statuses[OrdStatus.REJECTED]} drill order(s) rejected by the venue")
            if statuses.get(OrdStatus.NEW, 0) + _done(statuses) == len(self.order_ids):
                break
            if time.monotonic() > deadline:
                raise DrillError(f"not every drill order was acknowledged within {self.timeout:g} s: {dict(statuses)}")
            if time.monotonic() - last_said > 1:
                self.out(f"  acknowledged {statuses.get(OrdStatus.NEW, 0):,}/{len(self.order_ids):,}")
                last_said = time.monotonic()
            time.sleep(0.05)
        filled = set(
            Order.objects.filter(id__in=self.order_ids).exclude(status=OrdStatus.NEW).values_list("id", flat=True)
        )
        if filled:
            self.out(f"  {len(filled)} drill order(s) filled meanwhile: left out of the measurement")
            self.order_ids = [i for i in self.order_ids if i not in filled]
        self.out(f"all {len(self.order_ids):,} drill orders are resting at the venues")

    # -- the switch ---------------------------------------------------------------------------------

    def engage_and_measure(self, reason: str = "drill") -> DrillResult:
        """Engage the firm switch and wait until every drill order is canceled. Call `release` in a
        `finally` around this: from the moment it is sent, the whole firm is halted."""
        ids = self.order_ids
        other_live = Order.objects.filter(status__in=LIVE_STATUSES).exclude(id__in=ids).count()
        if other_live:
            self.out(f"note: {other_live:,} other live order(s) in the firm are canceled by the firm switch too")
        sent = SentCancels(self.venues)
        sent.mark()
        self.out("engaging the FIRM kill switch")
        engaged_ns = time.time_ns()
        answer = bus.send(cmd.EngageKillSwitch(bus.new_command_id(), engaged_ns, self.actor, "firm", None, reason),
                          timeout=self.timeout)  # fmt: skip
        engage_answer_s = (time.time_ns() - engaged_ns) / 1e9
        if answer["outcome"] != "accepted":
            raise DrillError(f"the engage was not accepted: {answer['outcome']} {answer['reason']}: {answer['text']}")
        self.out(f"  {answer['text']}")
        first = self.wait_canceled()
        per_order = [at_ns - engaged_ns for at_ns, _ in first.values()]
        asked = re.search(r"; (\d+) live order", answer["text"])
        return DrillResult(
            orders=len(ids),
            asked=int(asked.group(1)) if asked else None,
            engage_answer_s=engage_answer_s,
            last_cancel_s=max(per_order) / 1e9,
            per_order_s=[ns / 1e9 for ns in per_order],
            canceled_by=dict(Counter(actor for _, actor in first.values())),
            sent=sent.count(set(ids)),
            other_live=other_live,
        )

    def wait_canceled(self) -> dict[int, tuple[int, str]]:
        """Wait until every drill order is canceled; order id -> (when its OrderCanceled was
        committed, UTC ns; the event's actor)."""
        ids = self.order_ids
        deadline = time.monotonic() + self.timeout
        while (done := Order.objects.filter(id__in=ids, status=OrdStatus.CANCELED).count()) < len(ids):
            if time.monotonic() > deadline:
                left = Order.objects.filter(id__in=ids).exclude(status=OrdStatus.CANCELED)
                raise DrillError(f"{len(ids) - done} drill order(s) not canceled within {self.timeout:g} s, e.g. "
                                 + ", ".join(f"{o.id} {o.status} at {o.venue}" for o in left[:5]))  # fmt: skip
            time.sleep(0.02)
        canceled = Event.objects.filter(stream_type=ORDER_STREAM, stream_id__in=ids, event_type="OrderCanceled")
        first: dict[int, tuple[int, str]] = {}  # a report that came twice counts once, the first
        for order_id, at_ns, actor in sorted(canceled.values_list("stream_id", "recorded_at_ns", "actor"),
                                             key=lambda c: c[1]):  # fmt: skip
            first.setdefault(order_id, (at_ns, actor))
        return first

    def release(self, reason: str = "drill over") -> bool:
        """True when this released the firm switch (False: it was not engaged)."""
        answer = bus.send(cmd.ReleaseKillSwitch(bus.new_command_id(), time.time_ns(), self.actor, "firm", None, reason),
                          timeout=self.timeout)  # fmt: skip
        if answer["outcome"] not in ("accepted", "no_change"):
            raise DrillError(f"the release was not accepted: {answer['reason']}: {answer['text']}")
        self.out(f"released: {answer['text']}")
        return answer["outcome"] == "accepted"

    def cancel_leftovers(self) -> int:
        """Cancel, one by one, any drill order still live (a drill that stopped half-way)."""
        live = list(
            Order.objects.filter(id__in=self.order_ids, status__in=LIVE_STATUSES).exclude(pending_kind="cancel")
        )
        if live:
            bus.send_many([self.cancel_command(o) for o in live], timeout=self.timeout)
            self.out(f"asked {len(live)} drill order(s) left live to cancel")
        return len(live)

    def cancel_command(self, order: Order) -> cmd.CancelOrder:
        return cmd.CancelOrder(bus.new_command_id(), time.time_ns(), self.actor, order.account_id, order.id,
                               f"KSDX-{uuid.uuid4().hex[:12]}", order.cl_ord_id)  # fmt: skip


def _done(statuses: Counter) -> int:
    return sum(n for status, n in statuses.items() if OrdStatus(status) not in LIVE_STATUSES)
