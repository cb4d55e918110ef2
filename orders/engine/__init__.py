"""The engine: the single writer of the event log. Its parts:

- loop.py: the cycle (read a batch, decide, fold, commit, answer), recovery and the writer lock;
- handlers.py: pure command handlers over the engine's state and inputs;
- state.py: what it decides on, folded from the log;
- reference.py: instruments, accounts, venues from the database;
- market.py: venue sessions and books from the venue feed, with their times;
- the pre-trade gate is risk/gate.py, called from handlers.py only.
"""

from orders.engine.decisions import Outcome
from orders.engine.loop import WRITER_LOCK_KEY, Engine, LostWriterLock, WriterLockHeld
from orders.engine.state import EngineState

__all__ = ["WRITER_LOCK_KEY", "Engine", "EngineState", "LostWriterLock", "Outcome", "WriterLockHeld"]
