"""FIX 4.4 translation as data: our enums to and from FIX tag values.

Session code (quickfix callbacks) looks values up here and never spells a FIX character
itself, so a mapping is fixed in one place and tested as a table.
"""

from __future__ import annotations

from orders.domain.values import ExecType, OrderType, OrdStatus, Side, TimeInForce

# 54 Side
SIDE_TO_FIX = {Side.BUY: "1", Side.SELL: "2", Side.SELL_SHORT: "5"}
SIDE_FROM_FIX = {v: k for k, v in SIDE_TO_FIX.items()}

# 40 OrdType
ORD_TYPE_TO_FIX = {OrderType.MARKET: "1", OrderType.LIMIT: "2"}
ORD_TYPE_FROM_FIX = {v: k for k, v in ORD_TYPE_TO_FIX.items()}

# 59 TimeInForce
TIF_TO_FIX = {TimeInForce.DAY: "0", TimeInForce.GTC: "1", TimeInForce.IOC: "3", TimeInForce.FOK: "4"}
TIF_FROM_FIX = {v: k for k, v in TIF_TO_FIX.items()}

# 39 OrdStatus
ORD_STATUS_TO_FIX = {
    OrdStatus.NEW: "0",
    OrdStatus.PARTIALLY_FILLED: "1",
    OrdStatus.FILLED: "2",
    OrdStatus.DONE_FOR_DAY: "3",
    OrdStatus.CANCELED: "4",
    OrdStatus.PENDING_CANCEL: "6",
    OrdStatus.REJECTED: "8",
    OrdStatus.SUSPENDED: "9",
    OrdStatus.PENDING_NEW: "A",
    OrdStatus.EXPIRED: "C",
    OrdStatus.PENDING_REPLACE: "E",
}
ORD_STATUS_FROM_FIX = {v: k for k, v in ORD_STATUS_TO_FIX.items()}

# 150 ExecType (FIX 4.4: Trade is F; 4.2's Fill/PartialFill 1 and 2 are read as Trade)
EXEC_TYPE_TO_FIX = {
    ExecType.NEW: "0",
    ExecType.DONE_FOR_DAY: "3",
    ExecType.CANCELED: "4",
    ExecType.REPLACED: "5",
    ExecType.REJECTED: "8",
    ExecType.EXPIRED: "C",
    ExecType.TRADE: "F",
    ExecType.ORDER_STATUS: "I",
    ExecType.TRADE_CANCEL: "H",
    ExecType.TRADE_CORRECT: "G",
    ExecType.RESTATED: "D",
    ExecType.PENDING_NEW: "A",
    ExecType.PENDING_CANCEL: "6",
    ExecType.PENDING_REPLACE: "E",
    ExecType.STOPPED: "7",
    ExecType.SUSPENDED: "9",
    ExecType.CALCULATED: "B",
    ExecType.TRIGGERED: "L",
}
EXEC_TYPE_FROM_FIX = {v: k for k, v in EXEC_TYPE_TO_FIX.items()} | {"1": ExecType.TRADE, "2": ExecType.TRADE}

# 103 OrdRejReason. One name per code, the same both ways; a reason FIX has no code for (the
# simulator's "invalid_price", say) goes out as 99 Other, and an unknown code reads as None.
ORD_REJ_REASON_TO_FIX = {
    "broker_option": "0",
    "unknown_symbol": "1",
    "unknown_order": "5",  # on a status answer (150=I): the venue does not know the order
    "duplicate_cl_ord_id": "6",  # the venue has this ClOrdID: our resend of something it already has
    "incorrect_quantity": "13",
    "other": "99",
}
ORD_REJ_REASON_FROM_FIX = {v: k for k, v in ORD_REJ_REASON_TO_FIX.items()}

# 102 CxlRejReason. The names the engine stores on a venue's OrderCancelRejected /
# OrderReplaceRejected; an unknown code reads as "other". (The engine's own refusals say which
# request was too late, "too_late_to_cancel" / "too_late_to_replace": those are not the venue's.)
CXL_REJ_REASON_TO_FIX = {
    "too_late": "0",
    "unknown_order": "1",
    "broker_option": "2",
    "request_pending": "3",
    "duplicate_cl_ord_id": "6",
    "other": "99",
}
CXL_REJ_REASON_FROM_FIX = {v: k for k, v in CXL_REJ_REASON_TO_FIX.items()}

# 434 CxlRejResponseTo
CXL_REJ_RESPONSE_TO_FIX = {"cancel": "1", "replace": "2"}
CXL_REJ_RESPONSE_FROM_FIX = {v: k for k, v in CXL_REJ_RESPONSE_TO_FIX.items()}

# 530 MassCancelRequestType: which of the session's orders an OrderMassCancelRequest (35=q) cancels
MASS_CANCEL_REQUEST_TYPE_TO_FIX = {
    "security": "1",  # those in one instrument (55 Symbol)
    "underlying": "2",
    "product": "3",
    "cfi_code": "4",
    "security_type": "5",
    "trading_session": "6",
    "all": "7",
}
MASS_CANCEL_REQUEST_TYPE_FROM_FIX = {v: k for k, v in MASS_CANCEL_REQUEST_TYPE_TO_FIX.items()}

# 531 MassCancelResponse: the request type echoed when done, 0 when refused
MASS_CANCEL_RESPONSE_TO_FIX = {"rejected": "0"} | MASS_CANCEL_REQUEST_TYPE_TO_FIX
MASS_CANCEL_RESPONSE_FROM_FIX = {v: k for k, v in MASS_CANCEL_RESPONSE_TO_FIX.items()}

# 532 MassCancelRejectReason; an unknown code reads as "other"
MASS_CANCEL_REJECT_REASON_TO_FIX = {
    "not_supported": "0",  # this request type is not served
    "unknown_security": "1",
    "unknown_underlying": "2",
    "unknown_product": "3",
    "unknown_cfi_code": "4",
    "unknown_security_type": "5",
    "unknown_trading_session": "6",
    "other": "99",
}
MASS_CANCEL_REJECT_REASON_FROM_FIX = {v: k for k, v in MASS_CANCEL_REJECT_REASON_TO_FIX.items()}

# 263 SubscriptionRequestType
SUBSCRIPTION_REQUEST_TYPE_TO_FIX = {"snapshot": "0", "subscribe": "1", "unsubscribe": "2"}
SUBSCRIPTION_REQUEST_TYPE_FROM_FIX = {v: k for k, v in SUBSCRIPTION_REQUEST_TYPE_TO_FIX.items()}

# 269 MDEntryType (the ones a venue here serves)
MD_ENTRY_TYPE_TO_FIX = {"bid": "0", "offer": "1", "trade": "2"}
MD_ENTRY_TYPE_FROM_FIX = {v: k for k, v in MD_ENTRY_TYPE_TO_FIX.items()}

# 281 MDReqRejReason
MD_REQ_REJ_REASON_TO_FIX = {
    "unknown_symbol": "0",
    "duplicate_md_req_id": "1",
    "unsupported_subscription_request_type": "4",
    "unsupported_market_depth": "5",
    "unsupported_md_update_type": "6",
    "unsupported_md_entry_type": "8",
}

# 724 PosReqType
POS_REQ_TYPE_POSITIONS = "0"

# 728 PosReqResult
POS_REQ_RESULT_TO_FIX = {
    "valid": "0",
    "invalid": "1",
    "no_positions": "2",
    "not_authorized": "3",
    "not_supported": "4",
    "other": "99",
}

# 729 PosReqStatus
POS_REQ_STATUS_TO_FIX = {"completed": "0", "completed_with_warnings": "1", "rejected": "2"}

# 703 PosType
POS_TYPE_TRANSACTION_QUANTITY = "TQ"

# 731 SettlPriceType
SETTL_PRICE_TYPE_FINAL = "1"

# 380 BusinessRejectReason
BUSINESS_REJECT_REASON_TO_FIX = {"other": "0", "unknown_id": "1", "unsupported_message_type": "3"}

# 585 MassStatusReqType (35=AF): the types a venue may serve; the connector asks for "all" (7):
# every open order of the session, optionally narrowed by 1 Account.
MASS_STATUS_REQ_TYPE_TO_FIX = {"security": "1", "all": "7", "party": "8"}
MASS_STATUS_REQ_TYPE_FROM_FIX = {v: k for k, v in MASS_STATUS_REQ_TYPE_TO_FIX.items()}
