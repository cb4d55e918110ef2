"""The baseline's far end: a bare quickfix FIX 4.4 acceptor that answers every NewOrderSingle
with one ExecutionReport (150=0) and does nothing else. Run by venue_roundtrip.py."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import quickfix as fix

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from venues.fix.config import SessionSpec, session_settings, settings_text


class Echo(fix.Application):
    def onCreate(self, session_id):
        pass

    def onLogon(self, session_id):
        pass

    def onLogout(self, session_id):
        pass

    def toAdmin(self, message, session_id):
        pass

    def fromAdmin(self, message, session_id):
        pass

    def toApp(self, message, session_id):
        pass

    def fromApp(self, message, session_id):
        report = fix.Message()
        report.getHeader().setField(fix.BeginString("FIX.4.4"))
        report.getHeader().setField(fix.MsgType("8"))
        for tag in (11, 55, 54, 38):
            report.setField(tag, message.getField(tag))
        for tag, value in ((37, "E1"), (17, "X1"), (150, "0"), (39, "0"), (14, "0"), (151, message.getField(38)),
                           (6, "0")):  # fmt: skip
            report.setField(tag, value)
        fix.Session.sendToTarget(report, session_id)


def main() -> None:
    port, state_dir = int(sys.argv[1]), Path(sys.argv[2])
    text = settings_text(acceptor=True, port=port, sessions=[SessionSpec("ECHO", "BENCH")], state_dir=state_dir)
    settings = session_settings(text, state_dir / "echo.cfg")
    acceptor = fix.SocketAcceptor(Echo(), fix.MemoryStoreFactory(), settings, fix.ScreenLogFactory(False, False, False))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    acceptor.start()
    stop.wait()
    acceptor.stop()


if __name__ == "__main__":
    main()
