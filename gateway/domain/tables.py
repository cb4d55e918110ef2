"""What the OMS's refusal reasons are called in FIX, for clients: data, tested as tables.

The engine and the risk checks name a refusal in snake case ("price_band", "too_late_to_cancel");
a client reads a FIX code, with the engine's text in 58. A reason FIX has no code for is 99 Other.
"""

from __future__ import annotations

OTHER = "99"

# 103 OrdRejReason, from an OrderRejected's reason (risk, reference data) or a gateway refusal.
ORD_REJ_REASON = {
    "unknown_symbol": "1",
    "instrument_halted": "2",  # exchange closed: the instrument is not open for trading
    "unknown_order": "5",  # a status request for an order we do not know
    "duplicate": "6",  # the engine's answer to a ClOrdID already used today
    "duplicate_cl_ord_id": "6",  # the ClOrdID names another order or one of its requests
    "invalid_quantity": "13",
    "quantity_too_large": "13",
    "quantity_not_on_lot": "13",
    "unknown_account": "15",
    # limits, the kill switch, the price band, the tick (18 is FIX 5.0), venues, the gateway's own
    # "account_not_allowed": no FIX code says it better than the text: 99 Other.
}

# 102 CxlRejReason, from an OrderCancelRejected / OrderReplaceRejected's reason.
CXL_REJ_REASON = {
    "too_late_to_cancel": "0",
    "too_late_to_replace": "0",
    "too_late": "0",  # a parent whose children answered first
    "unknown_order": "1",
    "broker_option": "2",
    "request_pending": "3",
    "duplicate_cl_ord_id": "6",
}


def ord_rej_reason(reason: str | None) -> str:
    return ORD_REJ_REASON.get(reason or "", OTHER)


def cxl_rej_reason(reason: str | None) -> str:
    return CXL_REJ_REASON.get(reason or "", OTHER)


# 43 PossDupFlag / 97 PossResend: the client may have sent this before.
def possibly_resent(poss_dup: str | None, poss_resend: str | None) -> bool:
    return poss_dup == "Y" or poss_resend == "Y"
