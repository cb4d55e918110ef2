"""The FIX message log's reading of a raw message: the fields compliance searches by, and the
names a person reads it with."""

import threading

from gateway.fix.audit import AuditTrail, fields_of, row_for
from venues.fix.dictionary import decoded, message_type_name

SOH = "\x01"
REPORT = SOH.join(["8=FIX.4.4", "9=99", "35=8", "34=12", "43=Y", "49=OMS", "56=CLIENT1", "1=CLIENT-1", "11=B",
                   "41=A", "37=42", "17=E7", "150=5", "39=0", "55=SPY", "54=1", "10=000", ""])  # fmt: skip


def test_the_searched_fields_are_read_from_the_raw_message():
    row = row_for("CLIENT1", "out", REPORT, 1_700_000_000_000_000_000)
    assert (row.msg_seq_num, row.msg_type, row.poss_dup) == (12, "8", True)
    assert (row.cl_ord_id, row.orig_cl_ord_id, row.order_id, row.account) == ("B", "A", "42", "CLIENT-1")
    assert row.raw == REPORT and row.at.year == 2023


def test_a_message_without_them_still_makes_a_row():
    row = row_for("X", "in", "garbage", 0)
    assert (row.msg_seq_num, row.msg_type, row.cl_ord_id) == (None, "", "")


def test_only_the_first_value_of_a_tag_counts():
    assert fields_of(f"35=8{SOH}11=first{SOH}11=second{SOH}")["11"] == "first"


def test_heartbeats_and_test_requests_are_not_recorded():
    trail = AuditTrail(threading.Event())  # not started: what it would write stays queued
    for msg_type in ("0", "1", "A", "8", "3"):
        trail.record("CLIENT1", "in", REPORT.replace(f"{SOH}35=8{SOH}", f"{SOH}35={msg_type}{SOH}"))
    assert [raw.split(f"{SOH}35=")[1][0] for _, _, raw, _ in trail._drain()] == ["A", "8", "3"]


def test_a_message_reads_with_the_dictionarys_names():
    rows = {tag: (name, value, meaning) for tag, name, value, meaning in decoded(REPORT)}
    assert rows["150"] == ("ExecType", "5", "replaced")
    assert rows["54"] == ("Side", "1", "buy")
    assert message_type_name("8") == "Execution Report"
