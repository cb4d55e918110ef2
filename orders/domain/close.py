"""The close sweep's own cancels (orders/engine/day_end.py), as the rest of the domain knows them.

At a venue's close plus a grace period the OMS asks the venue to cancel each DAY order it still
shows working there. Its cancel request carries a ClOrdID the OMS makes, `EOD-<order id>` (with a
`~n` suffix when a client took that one the same day), so the answer can be told apart from the
answer to a client's cancel: a venue that does not know the order (an unknown-order reject) ends
it expired here, with a text saying so, since nothing works it anywhere.
"""

from __future__ import annotations

from . import cl_ord_ids

PREFIX = "EOD"

CANCEL_TEXT = "canceled at the close by the OMS: a DAY order the venue still showed working"
UNKNOWN_TEXT = "expired at the close by the OMS: the venue does not know the order (it refused the close's cancel)"
NEVER_ROUTED_TEXT = "expired at the close by the OMS: it never reached a venue"
UNREACHABLE_TEXT = (
    "expired at the close by the OMS: the venue is inactive (no session to ask it to cancel); confirm with the venue"
)
WAITING = "waiting"  # the sweep's answer (reason) while orders of the day wait on a request's answer


def cancel_cl_ord_id(order_id: int, number: int = 1) -> str:
    """The close's cancel ClOrdID for the order: the `number`th candidate (1: no suffix)."""
    base = f"{PREFIX}-{order_id}"
    return base if number == 1 else cl_ord_ids.with_suffix(base, number)


def is_close_cancel(order_id: int, cl_ord_id: str) -> bool:
    """Is this ClOrdID one the close sweep made for this order's cancel?"""
    base = f"{PREFIX}-{order_id}"
    return cl_ord_id == base or cl_ord_id.startswith(base + "~")
