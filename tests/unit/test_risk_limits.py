"""Pre-trade limits, price band and kill switch (`risk.domain.pretrade`): each check at its limit
passes and one tick or lot past it fails, the first failing check in the documented order wins,
and a denial names the limit and the figures it saw."""

from __future__ import annotations

from decimal import Decimal
from itertools import combinations

import pytest
from order_driver import drive_to

from orders.domain.values import OrderType, Side
from risk.domain import (
    NO_REFERENCE,
    AccountLimits,
    AccountUsage,
    Denial,
    DuplicateWindow,
    Exposure,
    InstrumentRisk,
    KillSwitches,
    Limits,
    MessageWindow,
    Reference,
    RestingOrder,
    RiskContext,
    RiskPolicy,
    RiskTicket,
    Scope,
    Switch,
    TicketKind,
    accepted_record,
    cancel_ticket,
    far_touch,
    reference_of,
    replace_ticket,
    run_checks,
    trader_of,
)

D = Decimal
NOW = 1_732_550_400_000_000_000
SECOND = 1_000_000_000
ACCOUNT = "DESK-EQ"
SYMBOL = "AAPL"
# A two-sided market 99.99 / 100.01: the reference is the mid, 100, quoted 1.2 s ago.
QUOTE_AT = NOW - 1_200_000_000
MARKET = reference_of([(D("99.99"), D("100.01"), QUOTE_AT)], None)
INSTRUMENT = InstrumentRisk(SYMBOL, price_band_pct=D("10"), max_reference_age_s=D("5"), margin_rate=D("0.5"),
                            market_collar_pct=D("2"))  # fmt: skip


HUNDRED = D("100")
PRICE = D("100.00")
HALF = D("0.5")
NO_LIMITS = Limits()
FLAT = Exposure()
UNUSED = AccountUsage()
POLICY = RiskPolicy()


def scenario(
    *,
    side: Side = Side.BUY,
    quantity: Decimal = HUNDRED,
    order_type: OrderType = OrderType.LIMIT,
    limit_price: Decimal | None = PRICE,
    venue: str | None = "SIMA",
    kind: TicketKind = TicketKind.SUBMIT,
    limits: Limits = NO_LIMITS,
    instrument: InstrumentRisk = INSTRUMENT,
    reference: Reference = MARKET,
    now_ns: int = NOW,
    exposure: Exposure = FLAT,
    account_usage: AccountUsage = UNUSED,
    margin_rate: Decimal = HALF,
    messages_in_window: int = 0,
    identical_recent: int = 0,
    own_resting: tuple[RestingOrder, ...] = (),
    kill_switch: Switch | None = None,
    policy: RiskPolicy = POLICY,
) -> tuple[RiskTicket, RiskContext]:
    price = limit_price if order_type is OrderType.LIMIT else None
    ticket = RiskTicket(ACCOUNT, "alice", SYMBOL, side, quantity, order_type, price, venue, kind)
    ctx = RiskContext(limits, instrument, reference, now_ns, exposure, account_usage, margin_rate,
                      messages_in_window, identical_recent, own_resting, kill_switch, policy)  # fmt: skip
    return ticket, ctx


def check(**knobs) -> Denial | None:
    return run_checks(*scenario(**knobs))


def reason(**knobs) -> str | None:
    denial = check(**knobs)
    return None if denial is None else denial.reason


def instrument(**changes) -> InstrumentRisk:
    fields = dict(symbol=SYMBOL, price_band_pct=D("10"), max_reference_age_s=D("5"), margin_rate=D("0.5"),
                  market_collar_pct=D("2"))  # fmt: skip
    return InstrumentRisk(**{**fields, **changes})


def switch(scope: Scope, target: str | None) -> Switch:
    return Switch(scope, target, "user:rita", "runaway algo", NOW - SECOND)


def test_an_order_within_every_limit_passes():
    limits = Limits(D("1000"), D("100000"), D("1000"), D("1000000"), D("500000"), D("10"))

    assert check(limits=limits) is None
    assert check(limits=limits, order_type=OrderType.MARKET) is None
    assert check(limits=limits, side=Side.SELL, limit_price=D("99.99")) is None


def test_denial_details_default_to_none_so_existing_callers_keep_working():
    assert Denial("unknown_symbol", "no such symbol").details == ()


# -- each check at its limit and one tick or lot past it -------------------------------------
EDGES = [
    # (reason, knobs at the limit, knobs one tick or lot past it)
    ("max_order_qty", dict(limits=Limits(max_order_qty=D("100"))), dict(limits=Limits(max_order_qty=D("99")))),
    (
        "max_order_notional",
        dict(limits=Limits(max_order_notional=D("10000")), limit_price=D("100.00")),
        dict(limits=Limits(max_order_notional=D("10000")), limit_price=D("100.01")),
    ),
    (
        "position_limit",  # long 800 + pending buys 100 + this 100 = 1000
        dict(limits=Limits(max_position_qty=D("1000")), exposure=Exposure(D("800"), pending_buy=D("100"))),
        dict(
            limits=Limits(max_position_qty=D("1000")),
            exposure=Exposure(D("800"), pending_buy=D("100")),
            quantity=D("101"),
        ),
    ),
    (
        "position_limit",  # a sell: short 800 + pending sells 100 + this 100 = 1000
        dict(
            limits=Limits(max_position_qty=D("1000")),
            exposure=Exposure(D("-800"), pending_sell=D("100")),
            side=Side.SELL,
        ),
        dict(
            limits=Limits(max_position_qty=D("1000")),
            exposure=Exposure(D("-800"), pending_sell=D("100")),
            side=Side.SELL,
            quantity=D("101"),
        ),
    ),
    (
        "position_limit",  # a sell out of a long 500: short -500 + 1500 = 1000
        dict(
            limits=Limits(max_position_qty=D("1000")), exposure=Exposure(D("500")), side=Side.SELL, quantity=D("1500")
        ),
        dict(
            limits=Limits(max_position_qty=D("1000")), exposure=Exposure(D("500")), side=Side.SELL, quantity=D("1501")
        ),
    ),
    (
        "position_limit",  # pending buys do not use up a sell's room, nor pending sells a buy's
        dict(limits=Limits(max_position_qty=D("100")), exposure=Exposure(pending_sell=D("900"))),
        dict(limits=Limits(max_position_qty=D("100")), exposure=Exposure(pending_buy=D("1"))),
    ),
    (
        "gross_notional_limit",  # 90,000 + 100 x 100.00
        dict(limits=Limits(max_gross_notional=D("100000")), account_usage=AccountUsage(D("90000"))),
        dict(
            limits=Limits(max_gross_notional=D("100000")),
            account_usage=AccountUsage(D("90000")),
            limit_price=D("100.01"),
        ),
    ),
    (
        "credit_limit",  # 20,000 + 10,000 x 0.5
        dict(limits=Limits(credit_limit=D("25000")), account_usage=AccountUsage(credit_used=D("20000"))),
        dict(
            limits=Limits(credit_limit=D("25000")),
            account_usage=AccountUsage(credit_used=D("20000")),
            limit_price=D("100.01"),
        ),
    ),
    (
        "rate_limit",
        dict(limits=Limits(max_messages_per_second=D("10")), messages_in_window=9),
        dict(limits=Limits(max_messages_per_second=D("10")), messages_in_window=10),
    ),
    ("duplicate_order", dict(identical_recent=4), dict(identical_recent=5)),  # the 5th passes, the 6th not
    ("price_band", dict(limit_price=D("110.00")), dict(limit_price=D("110.01"))),  # 10% over 100
    ("price_band", dict(limit_price=D("90.00")), dict(limit_price=D("89.99"))),  # 10% under
    ("price_band", dict(limit_price=D("90.00"), side=Side.SELL), dict(limit_price=D("89.99"), side=Side.SELL)),
    (
        "price_band",  # a market buy at its far touch: ask 101 is 1% over the mid 100
        dict(
            order_type=OrderType.MARKET,
            instrument=instrument(price_band_pct=D("1")),
            reference=reference_of([(D("99"), D("101"), QUOTE_AT)], None),
        ),
        dict(
            order_type=OrderType.MARKET,
            instrument=instrument(price_band_pct=D("1")),
            reference=reference_of([(D("99"), D("101.02"), QUOTE_AT)], None),
        ),
    ),
    (
        "stale_reference",
        dict(now_ns=QUOTE_AT + 5 * SECOND),
        dict(now_ns=QUOTE_AT + 5 * SECOND + 1),
    ),
    (
        "self_trade",
        dict(own_resting=(RestingOrder(7, Side.SELL, "SIMA", D("100.01"), False),)),
        dict(own_resting=(RestingOrder(7, Side.SELL, "SIMA", D("100.00"), False),)),
    ),
    (
        "self_trade",
        dict(side=Side.SELL, own_resting=(RestingOrder(7, Side.BUY, "SIMA", D("99.99"), True),)),
        dict(side=Side.SELL, own_resting=(RestingOrder(7, Side.BUY, "SIMA", D("100.00"), True),)),
    ),
]


@pytest.mark.parametrize(("expected", "at_limit", "past_limit"), EDGES, ids=[e[0] for e in EDGES])
def test_each_check_passes_at_its_limit_and_fails_one_tick_or_lot_past_it(expected, at_limit, past_limit):
    assert check(**at_limit) is None
    assert reason(**past_limit) == expected


def test_a_market_order_is_valued_at_the_far_touch_moved_by_the_collar():
    book = reference_of([(D("99"), D("101"), QUOTE_AT)], None)  # buy at 101 x 1.02, sell at 99 x 0.98
    buy = dict(order_type=OrderType.MARKET, reference=book)
    sell = dict(buy, side=Side.SELL)

    assert check(**buy, limits=Limits(max_order_notional=D("10302"))) is None
    assert reason(**buy, limits=Limits(max_order_notional=D("10301.99"))) == "max_order_notional"
    assert check(**sell, limits=Limits(max_order_notional=D("9702"))) is None
    assert reason(**sell, limits=Limits(max_order_notional=D("9701.99"))) == "max_order_notional"
    assert accepted_record(*scenario(**buy)).valued_at == D("103.02")
    assert accepted_record(*scenario(**sell)).valued_at == D("97.02")


def test_a_market_order_without_a_far_touch_has_no_reference():
    only_bids = reference_of([(D("99"), None, QUOTE_AT)], (D("100"), QUOTE_AT))  # last trade: a reference

    assert reason(order_type=OrderType.MARKET, reference=only_bids) == "no_reference"
    assert check(order_type=OrderType.MARKET, reference=only_bids, side=Side.SELL) is None
    assert check(reference=only_bids) is None  # a limit order measures against the last trade


def test_no_reference_at_all_denies_every_order():
    assert reason(reference=NO_REFERENCE) == "no_reference"
    assert reason(reference=NO_REFERENCE, order_type=OrderType.MARKET) == "no_reference"


def test_a_reference_of_unknown_age_is_stale():
    assert reason(reference=Reference(D("100"), None, "last")) == "stale_reference"


# -- the order of the checks -----------------------------------------------------------------
# Knobs that fail one check and no earlier one; those of different checks never overlap.
BREAKERS = {
    "kill_switch": dict(kill_switch=switch(Scope.FIRM, None)),
    "restricted_instrument": dict(instrument=instrument(restricted=True)),
    "no_reference": dict(reference=NO_REFERENCE),
    "max_order_qty": dict(max_order_qty=D("99")),
    "max_order_notional": dict(max_order_notional=D("9999.99")),
    "position_limit": dict(max_position_qty=D("99")),
    "gross_notional_limit": dict(max_gross_notional=D("9999.99")),
    "credit_limit": dict(credit_limit=D("4999.99")),
    "rate_limit": dict(max_messages_per_second=D("1"), messages_in_window=1),
    "duplicate_order": dict(identical_recent=5),
    "self_trade": dict(own_resting=(RestingOrder(7, Side.SELL, "SIMA", D("99.99"), False),)),
}
ORDER = list(BREAKERS)
LIMIT_KNOBS = {"max_order_qty", "max_order_notional", "max_position_qty", "max_gross_notional", "credit_limit",
               "max_messages_per_second"}  # fmt: skip


def broken(*reasons: str) -> dict:
    knobs: dict = {}
    limits: dict = {}
    for name in reasons:
        for knob, value in BREAKERS[name].items():
            (limits if knob in LIMIT_KNOBS else knobs)[knob] = value
    return {**knobs, "limits": Limits(**limits)}


@pytest.mark.parametrize("name", ORDER)
def test_each_breaker_fails_its_own_check(name):
    assert reason(**broken(name)) == name


@pytest.mark.parametrize(("earlier", "later"), list(combinations(ORDER, 2)), ids="-before-".join)
def test_when_two_checks_fail_the_earlier_one_is_reported(earlier, later):
    assert reason(**broken(earlier, later)) == earlier


def test_stale_reference_and_price_band_come_in_the_price_band_slot():
    stale = dict(now_ns=QUOTE_AT + 6 * SECOND)

    assert reason(**stale, limit_price=D("200.00")) == "stale_reference"
    assert reason(**stale, **broken("max_order_qty")) == "stale_reference"
    assert reason(**stale, instrument=instrument(restricted=True)) == "restricted_instrument"
    assert reason(limit_price=D("200.00"), **broken("max_order_qty")) == "price_band"
    assert reason(limit_price=D("200.00"), kill_switch=switch(Scope.ACCOUNT, ACCOUNT)) == "kill_switch"


# -- what a denial says ----------------------------------------------------------------------
def test_position_denial_names_the_limit_and_the_figures():
    denial = check(
        limits=Limits(max_position_qty=D("1000")),
        exposure=Exposure(D("800"), pending_buy=D("150")),
        limit_price=D("100"),
    )

    assert denial.reason == "position_limit"
    assert (
        denial.text == "position limit 1000 AAPL for DESK-EQ: position 800 + pending buys 150 + this order 100 = 1050"
    )
    assert denial.details == (
        ("limit", "1000"), ("position", "800"), ("pending_buy", "150"), ("order_adds", "100"), ("available", "50"),
    )  # fmt: skip


def test_a_sell_position_denial_counts_the_short_side():
    denial = check(
        limits=Limits(max_position_qty=D("1000")), exposure=Exposure(D("-800"), pending_sell=D("150")), side=Side.SELL
    )

    assert denial.text == "position limit 1000 AAPL for DESK-EQ: short 800 + pending sells 150 + this order 100 = 1050"
    assert dict(denial.details) == {
        "limit": "1000", "position": "-800", "pending_sell": "150", "order_adds": "100", "available": "50",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("knobs", "expected_text", "expected_details"),
    [
        (
            dict(limits=Limits(max_order_qty=D("50"))),
            "max order quantity 50 for DESK-EQ: this order 100",
            {"limit": "50", "order_qty": "100"},
        ),
        (
            dict(limits=Limits(max_order_notional=D("5000"))),
            "max order notional 5000 for DESK-EQ: this order 100 x 100.00 = 10000.00",
            {"limit": "5000", "order_qty": "100", "valued_at": "100.00", "order_notional": "10000.00"},
        ),
        (
            dict(limits=Limits(max_gross_notional=D("95000")), account_usage=AccountUsage(D("90000"))),
            "gross notional limit 95000 for DESK-EQ: gross 90000 + this order 10000.00 = 100000.00",
            {"limit": "95000", "gross_notional": "90000", "order_notional": "10000.00", "available": "5000"},
        ),
        (
            dict(limits=Limits(credit_limit=D("24000")), account_usage=AccountUsage(credit_used=D("20000"))),
            "credit limit 24000 for DESK-EQ: used 20000 + this order 10000.00 x margin 0.5 = 25000.000",
            {
                "limit": "24000",
                "credit_used": "20000",
                "order_notional": "10000.00",
                "margin_rate": "0.5",
                "order_margin": "5000.000",
                "available": "4000",
            },
        ),
        (
            dict(limits=Limits(max_messages_per_second=D("10")), messages_in_window=10),
            "message rate limit 10/s for DESK-EQ: 10 in the last second + this submit = 11",
            {"limit": "10", "messages_in_window": "10"},
        ),
        (
            dict(identical_recent=5),
            "duplicate order limit 5 per 1000 ms for DESK-EQ: 5 identical buy 100 AAPL at 100.00 + this one = 6",
            {"limit": "5", "identical_recent": "5", "window_ms": "1000"},
        ),
        (
            dict(limit_price=D("120.00")),
            "price band 10% for AAPL: limit price 120.00 is 20.00% away from the reference 100.00 (mid)",
            {"limit": "10", "price": "120.00", "reference_price": "100.00", "reference_age_ms": "1200"},
        ),
        (
            dict(now_ns=QUOTE_AT + 7_500_000_000),
            "stale reference for AAPL: mid 100.00 is 7500 ms old, over the 5 s allowed",
            {
                "max_reference_age_s": "5",
                "reference_price": "100.00",
                "reference_age_ms": "7500",
                "reference_source": "mid",
            },
        ),
        (
            dict(instrument=instrument(restricted=True)),
            "AAPL is restricted: no new risk",
            {"symbol": "AAPL"},
        ),
        (
            dict(kill_switch=switch(Scope.TRADER, "alice")),
            "kill switch on trader alice, engaged by user:rita: runaway algo",
            {"scope": "trader", "target": "alice", "engaged_by": "user:rita", "engaged_at_ns": str(NOW - SECOND)},
        ),
        (
            dict(own_resting=(RestingOrder(42, Side.SELL, "SIMA", D("99.50"), True),)),
            "self trade in AAPL for DESK-EQ: this buy at 100.00 would cross its own resting sell child order 42 "
            "at 99.50 at SIMA",
            {"price": "100.00", "resting_order_id": "42", "resting_price": "99.50", "resting_venue": "SIMA"},
        ),
    ],
    ids=lambda value: None,
)
def test_a_denial_says_the_limit_and_the_figures_and_details_carry_what_the_check_saw(
    knobs, expected_text, expected_details
):
    denial = check(**knobs)

    assert denial.text == expected_text
    assert dict(denial.details) == expected_details


# -- price band and reference ------------------------------------------------------------------
def test_the_reference_is_the_mid_of_the_best_bid_and_ask_across_venues_dated_by_the_older_side():
    reference = reference_of(
        [(D("99.98"), D("100.04"), 300), (D("99.99"), D("100.05"), 100), (None, D("100.01"), 200)], (D("100.5"), 400)
    )

    assert (reference.bid, reference.ask, reference.price) == (D("99.99"), D("100.01"), D("100.00"))
    assert reference.source == "mid" and reference.at_ns == 100  # the bid, from the venue updated at 100
    assert reference.last == D("100.5")
    assert reference.age_ns(1_100) == 1_000


def test_a_crossed_market_still_gives_its_mid_and_a_one_sided_one_the_last_trade():
    crossed = reference_of([(D("100.02"), D("100.00"), 5)], None)
    one_sided = reference_of([(D("100.02"), None, 5)], (D("99.50"), 7))

    assert (crossed.price, crossed.source) == (D("100.01"), "mid")
    assert (one_sided.price, one_sided.source, one_sided.at_ns) == (D("99.50"), "last", 7)
    assert reference_of([], None) == NO_REFERENCE
    assert reference_of([(None, None, 5)], None).price is None


def test_of_two_venues_showing_the_best_price_the_fresher_dates_it():
    reference = reference_of([(D("99"), D("101"), 100), (D("99"), D("101"), 300)], None)

    assert reference.at_ns == 300


def test_far_touch_is_the_ask_for_a_buy_and_the_bid_for_any_sell():
    assert far_touch(Side.BUY, MARKET) == D("100.01")
    assert far_touch(Side.SELL, MARKET) == D("99.99")
    assert far_touch(Side.SELL_SHORT, MARKET) == D("99.99")


def test_accepted_record_keeps_the_reference_its_age_and_the_valuation():
    record = accepted_record(*scenario())

    assert (record.reference_price, record.reference_age_ms, record.valued_at) == (D("100.00"), 1200, D("100.00"))


# -- replaces and cancels ------------------------------------------------------------------------
def new_order(side: Side = Side.BUY, quantity: str = "100", price: str = "100.00"):
    """A real order, acknowledged at the venue: 100 at 100.00 unless told otherwise."""
    driver = drive_to(None)
    driver.submit(quantity=D(quantity), limit_price=D(price), side=side)
    driver.ack()
    return driver


def context(**knobs) -> RiskContext:
    """The context of `scenario`, for a ticket made otherwise (a replace's, a cancel's)."""
    return scenario(**knobs)[1]


def test_a_replace_adds_the_quantity_increase_and_is_held_to_its_new_total_per_order():
    order = new_order().order  # pending buys: its own 100
    up = replace_ticket(order, D("150"), None, "alice")

    assert (up.quantity, up.order_quantity, up.kind, up.adds_risk) == (D("50"), D("150"), TicketKind.REPLACE, True)
    position = dict(limits=Limits(max_position_qty=D("1000")), exposure=Exposure(D("800"), pending_buy=D("100")))
    assert run_checks(replace_ticket(order, D("200"), None), context(**position)) is None
    denial = run_checks(replace_ticket(order, D("201"), None), context(**position))
    assert denial.reason == "position_limit" and ("order_adds", "101") in denial.details
    # Not only the increase: 100 -> 151 makes a 151 order.
    denial = run_checks(replace_ticket(order, D("151"), None), context(limits=Limits(max_order_qty=D("150"))))
    assert (denial.text, denial.details) == (
        "max order quantity 150 for ACC-1: this order 151",
        (("limit", "150"), ("order_qty", "151")),
    )


def test_a_higher_buy_price_adds_what_is_open_valued_higher():
    driver = new_order()
    driver.fill(D("40"))
    ticket = replace_ticket(driver.order, None, D("101.00"))

    assert ticket.quantity == 0 and ticket.adds_risk
    assert ticket.added_notional == D("60.00")  # 60 open, 1.00 higher
    usage = dict(limits=Limits(max_gross_notional=D("1060")), account_usage=AccountUsage(D("1000")))
    assert run_checks(ticket, context(**usage)) is None
    usage = dict(limits=Limits(max_gross_notional=D("1059.99")), account_usage=AccountUsage(D("1000")))
    assert run_checks(ticket, context(**usage)).reason == "gross_notional_limit"
    assert run_checks(ticket, context(limits=Limits(max_position_qty=D("0")))) is None  # adds no shares
    far = replace_ticket(driver.order, None, D("150.00"))
    assert run_checks(far, context()).reason == "price_band"


@pytest.mark.parametrize(
    ("side", "quantity", "price"),
    [
        (Side.BUY, D("80"), None),  # smaller
        (Side.BUY, None, D("99.00")),  # a lower buy
        (Side.SELL, D("60"), D("100.50")),  # a higher sell, but smaller: less notional
    ],
)
def test_a_replace_that_only_reduces_passes_everything_but_the_rate_limit(side, quantity, price):
    order = new_order(side).order
    ticket = replace_ticket(order, quantity, price)
    everything_broken = broken(*(name for name in ORDER if name != "rate_limit"))

    assert not ticket.adds_risk
    assert run_checks(ticket, context(**everything_broken)) is None
    assert run_checks(ticket, context(**broken("rate_limit"))).reason == "rate_limit"


def test_a_higher_sell_price_adds_notional_so_the_notional_checks_and_the_band_apply():
    # 100 @ 100.00 -> 100 @ 150.00: no more aggressive, yet it would count at 15,000, not 10,000
    order = new_order(Side.SELL).order
    ticket = replace_ticket(order, None, D("150.00"))

    assert ticket.adds_risk
    assert run_checks(ticket, context()).reason == "price_band"
    within_band = replace_ticket(order, None, D("101.00"))
    notional = context(limits=Limits(max_order_notional=D("10099")))
    assert run_checks(within_band, notional).reason == "max_order_notional"  # 100 x 101.00 = 10,100


def test_a_more_aggressive_sell_price_adds_risk():
    ticket = replace_ticket(new_order(Side.SELL).order, None, D("99.50"))

    assert ticket.adds_risk
    assert run_checks(ticket, context(kill_switch=switch(Scope.FIRM, None))).reason == "kill_switch"


def test_a_replace_is_no_duplicate_order():
    ticket = replace_ticket(new_order().order, D("150"), None)

    assert run_checks(ticket, context(identical_recent=100)) is None


def test_cancels_are_only_rate_limited():
    ticket = cancel_ticket(new_order().order, "alice")
    everything_broken = broken(*(name for name in ORDER if name != "rate_limit"))

    assert run_checks(ticket, context(**everything_broken)) is None
    denial = run_checks(ticket, context(**broken("rate_limit")))
    assert denial.reason == "rate_limit" and "this cancel" in denial.text


# -- self trade ----------------------------------------------------------------------------------
def resting_sell(venue: str | None = "SIMA", price: str | None = "100.00") -> tuple[RestingOrder, ...]:
    return (RestingOrder(9, Side.SELL, venue, None if price is None else D(price), False),)


def test_self_trade_is_only_at_the_same_venue_but_a_parent_crosses_at_any():
    assert check(own_resting=resting_sell("SIMB")) is None
    assert reason(own_resting=resting_sell("SIMB"), venue=None) == "self_trade"
    assert reason(own_resting=resting_sell(None)) == "self_trade"  # resting at a venue not known: any


def test_a_market_order_crosses_any_price_and_a_resting_market_order_any_limit():
    assert reason(own_resting=resting_sell(price="105.00"), order_type=OrderType.MARKET) == "self_trade"
    assert reason(own_resting=resting_sell(price=None), limit_price=D("95.00")) == "self_trade"


def test_orders_on_the_same_side_never_self_trade():
    same_side = (RestingOrder(9, Side.BUY, "SIMA", D("90.00"), False),)

    assert check(own_resting=same_side) is None
    assert check(own_resting=same_side, side=Side.SELL, limit_price=D("95.00")) is None


# -- kill switches -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("engaged", "halted", "free"),
    [
        (switch(Scope.FIRM, None), [("ACC-1", "alice", "SIMA"), ("ACC-2", None, None)], []),
        (
            switch(Scope.ACCOUNT, "ACC-1"),
            [("ACC-1", "bob", "SIMB"), ("ACC-1", None, None)],
            [("ACC-2", "alice", "SIMA")],
        ),
        (
            switch(Scope.TRADER, "alice"),
            [("ACC-2", "alice", "SIMB"), ("ACC-1", "alice", None)],
            [("ACC-1", None, "SIMA")],
        ),
        (
            switch(Scope.VENUE, "SIMA"),
            [("ACC-1", None, "SIMA")],
            [("ACC-1", "alice", "SIMB"), ("ACC-1", "alice", None)],
        ),
    ],
    ids=["firm", "account", "trader", "venue"],
)
def test_a_kill_switch_halts_its_scope_only(engaged, halted, free):
    switches = KillSwitches((engaged,))

    for account, trader, venue in halted:
        assert switches.halting(account, trader, venue) == engaged
    for account, trader, venue in free:
        assert switches.halting(account, trader, venue) is None


def test_the_widest_switch_is_reported_and_a_released_one_halts_no_more():
    switches = KillSwitches()
    switches.engage(switch(Scope.VENUE, "SIMA"))
    switches.engage(switch(Scope.ACCOUNT, "ACC-1"))

    assert switches.halting("ACC-1", None, "SIMA").scope is Scope.ACCOUNT
    assert switches.release(Scope.ACCOUNT, "ACC-1").target == "ACC-1"
    assert switches.halting("ACC-1", None, "SIMA").scope is Scope.VENUE
    assert switches.venue_halted("SIMA") is not None and switches.venue_halted("SIMB") is None
    assert switches.release(Scope.ACCOUNT, "ACC-1") is None
    switches.engage(switch(Scope.FIRM, None))
    assert switches.halting("ACC-9", None, None).scope is Scope.FIRM
    assert {s.scope for s in switches.engaged()} == {Scope.FIRM, Scope.VENUE}
    assert switches.release(Scope.FIRM).scope is Scope.FIRM
    assert switches.halting("ACC-9", None, None) is None


def test_a_switch_without_its_target_or_a_firm_switch_with_one_is_refused():
    with pytest.raises(ValueError, match="needs a target"):
        KillSwitches().engage(switch(Scope.TRADER, None))
    with pytest.raises(ValueError, match="names no target"):
        KillSwitches().engage(switch(Scope.FIRM, "ACC-1"))


def test_only_a_person_is_a_trader():
    assert trader_of("user:alice") == "alice"
    assert trader_of("fix:CLIENT1") is None
    assert trader_of("system") is None


# -- limits and windows ---------------------------------------------------------------------------
def test_a_symbols_overrides_win_over_the_accounts_limits():
    account = AccountLimits(
        ACCOUNT, Limits(max_order_qty=D("1000"), credit_limit=D("5000")), {"TSLA": Limits(max_order_qty=D("10"))}
    )

    assert account.for_symbol("TSLA") == Limits(max_order_qty=D("10"), credit_limit=D("5000"))
    assert account.for_symbol("AAPL") == account.limits


def test_a_symbol_cannot_lift_the_accounts_own_caps():
    lifted = Limits(max_gross_notional=D("9e9"), credit_limit=D("9e9"), max_messages_per_second=D("9e9"))
    account = AccountLimits(ACCOUNT, Limits(max_gross_notional=D("1000"), credit_limit=D("500"),
                                            max_messages_per_second=D("10")), {"TSLA": lifted})  # fmt: skip

    assert account.for_symbol("TSLA") == account.limits


def test_the_message_window_counts_the_last_second_only():
    window = MessageWindow()
    for at in (0, 400_000_000, 999_999_999):
        window.record(ACCOUNT, NOW + at)

    assert window.count(ACCOUNT, NOW + 999_999_999) == 3
    assert window.count(ACCOUNT, NOW + SECOND) == 2  # the first is a whole second old: gone
    assert window.count("OTHER", NOW + SECOND) == 0
    assert window.count(ACCOUNT, NOW + 3 * SECOND) == 0


def test_a_stamp_out_of_order_keeps_the_window_sorted():
    window = MessageWindow()
    window.record(ACCOUNT, NOW + 500)
    window.record(ACCOUNT, NOW + 100)  # arrived later, stamped earlier

    assert window.count(ACCOUNT, NOW + 500 + SECOND - 1) == 2


def test_the_duplicate_window_counts_identical_orders_by_value():
    window = DuplicateWindow(RiskPolicy(duplicate_max=2, duplicate_window_ns=SECOND))
    window.record(ACCOUNT, SYMBOL, Side.BUY, D("100"), D("10.5"), NOW)
    window.record(ACCOUNT, SYMBOL, Side.BUY, D("100.00"), D("10.50"), NOW + 1)

    assert window.count(ACCOUNT, SYMBOL, Side.BUY, D("1E+2"), D("10.500"), NOW + 2) == 2
    assert window.count(ACCOUNT, SYMBOL, Side.SELL, D("100"), D("10.5"), NOW + 2) == 0
    assert window.count(ACCOUNT, SYMBOL, Side.BUY, D("100"), None, NOW + 2) == 0
    assert window.count(ACCOUNT, SYMBOL, Side.BUY, D("100"), D("10.5"), NOW + SECOND + 1) == 0
    window.prune(NOW + 10 * SECOND)
