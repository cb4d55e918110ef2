"""A client session's worker: new orders in a row go to the engine together; anything else waits
until everything before it is answered, and every answer is handled in arrival order."""

from __future__ import annotations

import threading

import pytest

from gateway.fix import inbound
from gateway.fix.inbound import Pending, Submission, Worker


@pytest.fixture
def engine(monkeypatch):
    """The bus and engine as a fake: each call of the worker's, and the commands in it."""
    calls: list[list[str]] = []

    def send_all(commands):
        calls.append(list(commands))
        return [{"outcome": "accepted", "command": c} for c in commands]

    monkeypatch.setattr(inbound, "_send_all", send_all)
    return calls


def test_new_orders_in_a_row_go_together_and_a_cancel_waits_for_their_answers(engine):
    stopped, done = threading.Event(), threading.Event()
    gate = threading.Event()
    seen: list[str] = []

    def new_order(name: str, refused: bool = False) -> Submission:
        def prepare() -> Pending:
            if refused:  # refused by the gateway itself: nothing goes to the engine
                return Pending(None, lambda answer: seen.append(f"{name} refused ({answer})"))
            return Pending(name, lambda answer: seen.append(f"{name} {answer['outcome']}"))

        return Submission(prepare)

    worker = Worker("TEST", stopped)
    try:
        worker.put(lambda: gate.wait(5))  # holds the worker while the rest queue up behind it
        for job in (new_order("D1"), new_order("D2"), new_order("D3", refused=True), lambda: seen.append("F1"),
                    new_order("D4"), done.set):  # fmt: skip
            worker.put(job)
        gate.set()
        assert done.wait(5)
    finally:
        stopped.set()

    assert engine == [["D1", "D2"], ["D4"]], "D1 and D2 in one round trip; D4 after the cancel"
    assert seen == ["D1 accepted", "D2 accepted", "D3 refused (None)", "F1", "D4 accepted"]
