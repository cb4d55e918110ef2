"""The connector's quickfix Application: thin. Session callbacks keep each `VenueLink` up to
date; an application message is looked up by its type (35) in `handlers` and handed to the part
that reads it. A type not in the table is dropped.

A handler runs on quickfix's thread and must not block on the engine or the database for long:
the inbound part queues its commands, and anything slower starts a thread of its own. A handler
raises `Ignored` for a message with nothing to book; any other error is logged, never allowed
to take the session down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import quickfix as fix

from venues.connector.link import VenueLink
from venues.connector.threads import spawn

log = logging.getLogger("oms.connector")

RESEND_WITHIN_SECONDS = 30  # our own messages younger than this are replayed on a ResendRequest

Handler = Callable[[VenueLink, fix.Message], None]
STALE_WHEN_RESENT = frozenset({"W"})  # 35 MsgTypes not worth reading when the venue resends them
SEQUENCE_LOST = "MsgSeqNum too low"  # how quickfix words a Logout for numbers one side cannot accept


def _sequence_lost(logout: fix.Message) -> bool:
    return logout.isSetField(58) and logout.getField(58).startswith(SEQUENCE_LOST)


class Ignored(Exception):
    """A message with nothing to book: a report about an order this OMS did not send, or of an
    ExecType that only tells us what we know (150=6 pending cancel, say). Logged, not booked."""


class ConnectorApplication(fix.Application):
    def __init__(
        self,
        links: Iterable[VenueLink],
        handlers: dict[str, Handler],  # 35 MsgType -> the part that reads it
        *,
        on_logon: Callable[[VenueLink], None],  # run on a thread of its own after each logon
        on_change: Callable[[], None],  # a session's state changed: publish it
    ) -> None:
        super().__init__()
        self._by_target = {link.target: link for link in links}
        self.handlers = handlers
        self._on_logon = on_logon
        self._on_change = on_change

    def _link(self, session_id: fix.SessionID) -> VenueLink | None:
        return self._by_target.get(session_id.getTargetCompID().getValue())

    def onCreate(self, session_id: fix.SessionID) -> None:
        link = self._link(session_id)
        if link is not None:
            link.session_id = session_id

    def onLogon(self, session_id: fix.SessionID) -> None:
        link = self._link(session_id)
        if link is None:
            return
        link.went_up()
        link.reset_next_logon = False
        log.info("%s: logged on (%s)", link.name, session_id.toString())
        self._on_change()
        spawn(self._on_logon, link, name=f"logon-{link.name}")

    def onLogout(self, session_id: fix.SessionID) -> None:
        link = self._link(session_id)
        if link is None:
            return
        if not link.up.is_set():
            return  # a failed reconnect attempt: the first logout's time and reason stand
        log.warning("%s: session down; orders to it are refused until it is back", link.name)
        link.went_down(f"logged out at {datetime.now(UTC):%H:%M:%S} UTC")
        self._on_change()

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        link = self._link(session_id)
        if link is None:
            return
        msg_type = message.getHeader().getField(35)
        if msg_type == "5" and _sequence_lost(message):
            link.reset_next_logon = True  # we refused the venue's numbers
        elif msg_type == "A" and link.reset_next_logon:
            # One side lost its store (a wiped var/, a venue that started a new day early): the
            # two cannot agree on numbers, so start again at 1 (141=Y; quickfix resets our side
            # as it sends this). Nothing is replayed: the status resync after the logon finds
            # what was missed.
            message.setField(141, "Y")  # 141 ResetSeqNumFlag; on every attempt until one logs on
            log.warning("%s: sequence numbers out of step with the venue's; logging on with a reset", link.name)

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        link = self._link(session_id)
        header = message.getHeader()
        if link is not None and header.getField(35) == "5" and message.isSetField(58):
            link.detail = f"venue logged us out: {message.getField(58)}"
            if _sequence_lost(message):
                link.reset_next_logon = True  # the venue refused ours
        if link is not None and header.getField(35) == "3":
            # The venue's session layer refused a message of ours: it never reached its application.
            # A bug of ours (a malformed message), never a business answer: say so loudly.
            get = {tag: message.getField(tag) for tag in (45, 371, 372, 373, 58) if message.isSetField(tag)}
            log.error("%s: the venue rejected our message %s (type %s) at the session layer: tag %s, reason %s: %s",
                      link.name, get.get(45), get.get(372), get.get(371), get.get(373), get.get(58, ""))  # fmt: skip

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        header = message.getHeader()
        if header.isSetField(43) and header.getField(43) == "Y":
            # quickfix replaying its store for the venue's ResendRequest. A message of ours is
            # replayed, in its place in the sequence, if it is fresh: sent since this logon (the
            # venue asked for it because it came ahead of the resend it was waiting for) or within
            # RESEND_WITHIN_SECONDS (lost in a short disconnect: an order and its cancel replayed
            # in order leave the venue as if nothing was lost). An older one is gap-filled: stale
            # for the market; the resync sends again what still matters.
            link = self._link(session_id)
            sent_at = _utc(header.getField(122)) if header.isSetField(122) else None  # 122 OrigSendingTime
            fresh_since = datetime.now(UTC) - timedelta(seconds=RESEND_WITHIN_SECONDS)
            if link is None or sent_at is None or sent_at < min(link.logged_on_at, fresh_since):
                raise fix.DoNotSend()

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        link = self._link(session_id)
        if link is None:
            return
        link.received += 1
        header = message.getHeader()
        msg_type = header.getField(35)
        handler = self.handlers.get(msg_type)
        if handler is None:
            return
        if msg_type in STALE_WHEN_RESENT and header.isSetField(43) and header.getField(43) == "Y":
            return  # a market data snapshot of the past, resent for a gap: the next one is current
        # Everything else the venue resends (PossDupFlag=Y) is handled as it comes: the engine
        # deduplicates reports on ExecID, and a resent report is often the one we missed.
        try:
            handler(link, message)
        except Ignored as exc:
            log.info("%s: report ignored: %s", link.name, exc)
        except Exception:  # a report we cannot read must not take the session down
            log.exception("%s: could not handle %s", link.name, message.toString().replace("\x01", "|"))


def _utc(timestamp: str) -> datetime | None:
    """A FIX UTCTimestamp (YYYYMMDD-HH:MM:SS[.sss...]) as an aware datetime, None if unreadable."""
    whole, _, fraction = timestamp.partition(".")
    try:
        at = datetime.strptime(whole, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    digits = (fraction + "000000")[:6]
    return at.replace(microsecond=int(digits)) if digits.isdigit() else at
