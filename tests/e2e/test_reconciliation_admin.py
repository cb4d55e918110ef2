"""Issue 9's "done means" for reconciliation, driven as people would: on the system as `make run`
starts it (beat reconciling every OMS_RECONCILE_SECONDS), a trade the venue booked and never
reported (the simulator's `unreported_fill` fault) shows as a break in health and in admin by
itself, a trader cannot resolve it, and the risk user resolves it in admin in Chromium, accepting
the venue's figure with a reason: the adjustment is in the audit log, the position shows the
venue's figure and the next run matches.

A day of its own (profile e2e-recon, started afresh): the figures are this test's alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect
from test_make_run import BASE_DIR, System

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]

PROFILE = "e2e-recon"
RECONCILE_SECONDS = "10"  # beat's schedule: short, so a break shows well within the minute
ACCOUNT, SYMBOL, BOUGHT, UNREPORTED = "DESK-ARB", "MSFT", 10, 5
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    subprocess.run([sys.executable, "-m", "oms_project.embedded", "stop", "--profile", PROFILE], cwd=BASE_DIR,
                   capture_output=True, timeout=60, check=True)  # fmt: skip
    shutil.rmtree(BASE_DIR / "var" / PROFILE, ignore_errors=True)
    running = System(profile=PROFILE)
    running.env["OMS_RECONCILE_SECONDS"] = RECONCILE_SECONDS
    running.start()
    try:
        yield running
    finally:
        running.ctrl_c()


def admin_page(browser: Browser, system: System, username: str) -> Page:
    """A browser context of its own (its own cookies), at the admin's login form, filled in and sent."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(system.base + "/admin/")
    assert "/admin/login/" in page.url, "an anonymous visitor is sent to the admin's login form"
    page.fill("#id_username", username)
    page.fill("#id_password", username)
    page.click("input[type=submit]")
    return page


def reconciliation_health(system: System) -> str:
    status, body = system.request("GET", "/api/v1/health/")
    assert status in (200, 503), body
    return body["components"]["reconciliation"]


def wait_for(what: str, predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f}s"
        time.sleep(0.5)


def test_a_break_injected_at_a_venue_shows_by_itself_and_the_risk_user_resolves_it_in_admin(system, browser):
    trader = system.token("trader", "trader")
    risk = system.token("risk", "risk")
    system.reference(SYMBOL, trader)  # the market is up: a market order has a reference to be checked against
    order = {"account": ACCOUNT, "cl_ord_id": f"REC-{uuid.uuid4().hex[:10]}", "symbol": SYMBOL, "side": "buy",
             "quantity": str(BOUGHT), "order_type": "market", "time_in_force": "day", "venue": "SIMA"}  # fmt: skip
    status, placed = system.request("POST", "/api/v1/orders/", order, trader)
    assert status == 201, placed
    filled = system.wait_order(placed["id"], trader, lambda o: o["status"] in ("filled", "expired", "rejected"))
    assert filled["status"] == "filled", filled

    # The venue books 5 more MSFT to DESK-ARB and tells the OMS nothing.
    key_script = (
        "from orders import bus; import json;"
        f"bus.client().set(bus.key('venue:SIMA:faults:OMS'), json.dumps({{'id': 'e2e-{uuid.uuid4().hex[:6]}', "
        f"'unreported_fill': '{ACCOUNT} {SYMBOL} {UNREPORTED}'}}))"
    )
    system.manage("shell", "-c", key_script)
    text = f"SIMA {ACCOUNT} {SYMBOL}: the OMS holds {BOUGHT}, the venue reports {BOUGHT + UNREPORTED}"

    # Beat's reconciliation finds it; nobody runs reconcile_venues. Health names it (without failing).
    def the_break() -> dict | None:
        status, breaks = system.request("GET", f"/api/v1/reconciliation/breaks/?status=open&venue=SIMA"
                                               f"&account={ACCOUNT}", token=risk)  # fmt: skip
        assert status == 200, breaks
        return next((b for b in breaks if b["kind"] == "position" and b["subject"] == SYMBOL), None)

    found = wait_for("the break opened by beat's reconciliation", the_break, timeout=60)
    assert found["text"] == text, found
    break_id = found["id"]
    wait_for("health naming the break", lambda: f"break {break_id} ({text})" in reconciliation_health(system), 60)
    assert system.request("GET", "/api/v1/health/")[0] == 200  # an open break is news, not an outage

    # The trader cannot get into admin at all (not staff), let alone resolve.
    page = admin_page(browser, system, "trader")
    expect(page.locator(".errornote")).to_contain_text("staff account")
    page.goto(system.base + f"/admin/reconciliation/reconciliationbreak/{break_id}/resolve/")
    assert "/admin/login/" in page.url
    page.context.close()
    status, refused = system.request("POST", f"/api/v1/reconciliation/breaks/{break_id}/resolve/",
                                     {"resolution": "accept", "reason": "mine"}, trader)  # fmt: skip
    assert status == 403, refused

    # The risk user: admin's index, the breaks (open ones), the break, its Resolve button.
    page = admin_page(browser, system, "risk")
    page.get_by_role("link", name="Reconciliation breaks").click()
    page.get_by_role("link", name="open", exact=True).click()  # the state filter
    row = page.locator("#result_list tbody tr", has_text=f"{SYMBOL}").filter(has_text="SIMA")
    expect(row).to_have_count(1)
    row.get_by_role("link", name=str(break_id), exact=True).click()
    expect(page.locator("#content")).to_contain_text(text)
    page.get_by_role("link", name="Resolve this break").click()

    expect(page.locator("h1")).to_contain_text(f"Resolve break {break_id}")
    figures = page.locator("#break-figures")
    expect(figures).to_contain_text(f"{BOUGHT + UNREPORTED}")  # the venue's figure, beside the OMS's
    expect(figures).to_contain_text(f"+{UNREPORTED}")  # and what accepting it books
    page.get_by_label("Accept the venue's figure", exact=False).check()
    page.get_by_label("Reason").fill("   ")  # no reason: the form says so, and nothing is recorded
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".errorlist")).to_contain_text("required")
    page.get_by_label("Accept the venue's figure", exact=False).check()
    page.get_by_label("Reason").fill("SIMA confirmed the 5 MSFT on the phone: trade ticket 4711")
    resolved_at = system.log.stat().st_size  # beat's runs log what they found (the worker's lines)
    page.get_by_role("button", name="Resolve").click()
    success = page.locator(".messagelist .success")
    expect(success).to_contain_text(f"break {break_id} accepted")
    expect(success).to_contain_text(f"SIMA {ACCOUNT} {SYMBOL} position adjusted by {UNREPORTED}")

    # The audit log: PositionAdjusted, by the risk user, with the reason; a position adjustment row.
    page.goto(system.base + "/admin/orders/event/?event_type__exact=PositionAdjusted")
    adjusted = page.locator("#result_list tbody tr").first
    expect(adjusted).to_contain_text("PositionAdjusted")
    expect(adjusted).to_contain_text("user:risk")
    page.goto(system.base + f"/admin/orders/positionadjustment/?q={break_id}")
    adjustment = page.locator("#result_list tbody tr")
    expect(adjustment).to_have_count(1)
    expect(adjustment).to_contain_text("trade ticket 4711")
    expect(adjustment).to_contain_text("user:risk")
    page.goto(system.base + f"/admin/reconciliation/reconciliationbreak/{break_id}/change/")
    expect(page.locator("#content")).to_contain_text("accepted")
    expect(page.get_by_role("link", name="Resolve this break")).to_have_count(0)  # closed: nothing to resolve
    page.context.close()

    # The position shows the venue's figure, and the next run of beat's reconciliation matches.
    status, positions = system.request("GET", f"/api/v1/positions/?account={ACCOUNT}&symbol={SYMBOL}", token=risk)
    assert status == 200 and Decimal(positions["results"][0]["quantity"]) == BOUGHT + UNREPORTED, positions
    status, closed = system.request("GET", f"/api/v1/reconciliation/breaks/{break_id}/", token=risk)
    assert status == 200 and closed["status"] == "accepted" and closed["closed_by"] == "user:risk", closed

    def matched_since_resolved() -> bool:
        with open(system.log, "rb") as log:
            log.seek(resolved_at)
            return b"SIMA: reconciled, " in log.read()

    wait_for("a run of beat's reconciliation matching SIMA after the adjustment", matched_since_resolved, 60)
    assert reconciliation_health(system) == "ok"
    status, reopened = system.request("GET", "/api/v1/reconciliation/breaks/?status=open", token=risk)
    assert status == 200 and reopened == [], json.dumps(reopened)
