"""The gateway's quickfix Application: thin. Logon is where a client is let in or refused; an
application message goes to the inbound part; nothing raised by a request's content ever leaves
`fromApp` except quickfix's own rejections, so no message takes a session down.

Any CompID reaches `fromAdmin` (the acceptor's session is a template, `TargetCompID=*`), so the
ClientSession table, read at every logon, decides: an unknown or inactive CompID is refused with a
Logout whose Text (58) says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import quickfix as fix
from django.db import connection

from gateway.fix.inbound import Inbound
from gateway.fix.link import ClientLink
from gateway.models import ClientSession
from venues.fix.messages import getter

log = logging.getLogger("oms.gateway")

QUICKFIX_REJECTIONS = (fix.FieldNotFound, fix.IncorrectDataFormat, fix.IncorrectTagValue, fix.UnsupportedMessageType)


def logon_refusal(row: ClientSession | None, comp_id: str) -> str | None:
    if row is None:
        return f"unknown CompID {comp_id}"
    if not row.active:
        return f"session {comp_id} is not active"
    return None


class GatewayApplication(fix.Application):
    def __init__(self, inbound: Inbound, link_for: Callable[[str], ClientLink],
                 on_logon: Callable[[ClientLink, ClientSession], None],
                 on_logout: Callable[[ClientLink], None]) -> None:  # fmt: skip
        super().__init__()
        self.inbound = inbound
        self.link_for = link_for
        self.on_logon = on_logon
        self.on_logout = on_logout

    def onCreate(self, session_id: fix.SessionID) -> None:
        self.link_for(session_id.getTargetCompID().getValue()).session_id = session_id

    def onLogon(self, session_id: fix.SessionID) -> None:
        link = self.link_for(session_id.getTargetCompID().getValue())
        link.session_id = session_id
        link.up.set()
        log.info("%s logged on", link.comp_id)

    def onLogout(self, session_id: fix.SessionID) -> None:
        session = fix.Session.lookupSession(session_id)
        if session is not None and not session.isEnabled():
            session.logon()  # our logout() disabled it; whether it may log on again is the front's to say
        link = self.link_for(session_id.getTargetCompID().getValue())
        if not link.up.is_set():
            return  # a logon refused or never completed
        log.info("%s logged out", link.comp_id)
        link.up.clear()
        self.on_logout(link)

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        if message.getHeader().getField(35) != "A":
            return
        comp_id = session_id.getTargetCompID().getValue()
        try:  # the front checked it a moment ago; a row changed since is caught here
            row = ClientSession.objects.filter(comp_id=comp_id).first()
            refusal = logon_refusal(row, comp_id)
            if refusal is not None:
                log.warning("logon refused: %s", refusal)
                raise fix.RejectLogon(refusal)
            assert row is not None
            self.on_logon(self.link_for(comp_id), row)  # reads the row's accounts
        finally:
            connection.close()  # back to the pool: quickfix's thread keeps none

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        link = self.link_for(session_id.getTargetCompID().getValue())
        try:
            self.inbound.receive(link, message, getter(message))
        except QUICKFIX_REJECTIONS:
            raise  # quickfix answers: a session Reject (35=3) or a BusinessMessageReject (35=j)
        except Exception:  # anything else is ours: logged, and the session stays up
            log.exception("%s: could not handle %s", link.comp_id, message.toString().replace("\x01", "|"))
