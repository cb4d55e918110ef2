"""Browser fixtures for the blotter's tests: the system as `make run` starts it (test_make_run's
System, started once per module), Debian's chromium driven by Playwright (never a downloaded
browser), and pages logged in through the /login/ form that record every websocket message they
receive, so a test can check what reached the browser as well as what the page shows."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, WebSocket, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking"]
VIEWPORT = {"width": 1600, "height": 1000}
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def system() -> Iterator:
    """The whole OMS, started as `make run` starts it, once for the module."""
    from test_make_run import System

    running = System()
    running.start()
    try:
        yield running
    finally:
        running.ctrl_c()


# Module scope, not session: Playwright's sync API runs an event loop in this thread while it is
# started, and Django refuses database calls under a running loop (the integration tests after).
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"the blotter's tests need Debian's chromium at {CHROMIUM}: apt-get install -y chromium")
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


class Blotter:
    """A logged-in blotter page, with the websocket messages it received."""

    def __init__(self, page: Page, base: str, username: str) -> None:
        self.page = page
        self.base = base
        self.username = username
        self.messages: list[dict] = []
        self.socket_urls: list[str] = []
        page.on("websocket", self._watch)
        page.set_default_timeout(TIMEOUT_MS)

    def _watch(self, socket: WebSocket) -> None:
        if "/ws/blotter/" not in socket.url:
            return
        self.socket_urls.append(socket.url)
        socket.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        parsed = json.loads(payload)  # one message, or a batch of them as an array
        self.messages.extend(parsed if isinstance(parsed, list) else [parsed])

    def log_in(self, password: str | None = None) -> Blotter:
        self.page.goto(self.base + "/")
        assert "/login/" in self.page.url, "an anonymous visitor is sent to the login page"
        self.page.fill("#id_username", self.username)
        self.page.fill("#id_password", password or self.username)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.base + "/")
        self.wait_live()
        return self

    def wait_live(self, timeout: float = TIMEOUT_MS) -> None:
        expect(self.page.locator("#connection")).to_have_attribute("data-state", "live", timeout=timeout)

    # -- orders ---------------------------------------------------------------------------------

    def order(self, cl_ord_id: str) -> dict | None:
        """The order as the page holds it (fed by the websocket only)."""
        return self.page.evaluate(
            "(id) => [...window.blotter.store.orders.values()].find((o) => o.cl_ord_id === id) ?? null", cl_ord_id
        )

    def wait_order(self, cl_ord_id: str, status: str | None = None, timeout: float = TIMEOUT_MS) -> dict:
        """Waits for the order (in `status`) in the page's store, then for its grid row to show it."""
        self.page.wait_for_function(
            """([id, status]) => [...window.blotter.store.orders.values()]
                 .some((o) => o.cl_ord_id === id && (status === null || o.status === status))""",
            arg=[cl_ord_id, status],
            timeout=timeout,
        )
        order = self.order(cl_ord_id)
        assert order is not None
        if status is not None and not order["parent"]:
            expect(self.cell(order["id"], "status")).to_have_text(status, timeout=timeout)
        return order

    def wait_status(self, order_id: int, status: str, timeout: float = TIMEOUT_MS) -> dict:
        """As wait_order, by id: a replace gives the order a new cl_ord_id."""
        self.page.wait_for_function(
            "([id, status]) => window.blotter.store.orders.get(id)?.status === status",
            arg=[order_id, status],
            timeout=timeout,
        )
        expect(self.cell(order_id, "status")).to_have_text(status, timeout=timeout)
        return self.page.evaluate("(id) => window.blotter.store.orders.get(id)", order_id)

    def row(self, order_id: int):
        return self.page.locator(f'#orders-grid .ag-row[row-id="{order_id}"]')

    def cell(self, order_id: int, column: str):
        return self.page.locator(f'#orders-grid .ag-row[row-id="{order_id}"] [col-id="{column}"]')

    def submit(self, *, symbol: str, quantity: str, side: str = "buy", account: str = "DESK-ARB",
               order_type: str = "limit", price: str | None = None, tif: str = "day", strategy: str = "",
               venue: str = "", slices: str | None = None) -> dict:  # fmt: skip
        """Fills the ticket and sends it with Enter; answers the ticket's result (its text, and the
        order's id, cl_ord_id and status as the POST answered them)."""
        page = self.page
        page.keyboard.press("F2")
        page.keyboard.type(symbol)
        page.select_option("#t-side", side)
        page.select_option("#t-account", account)
        page.fill("#t-quantity", quantity)
        page.select_option("#t-type", order_type)
        if price is not None:
            page.fill("#t-price", price)
        page.select_option("#t-tif", tif)
        page.select_option("#t-strategy", strategy)
        if venue:
            page.select_option("#t-venue", venue)
        if slices is not None:
            page.fill("#t-slices", slices)
        page.focus("#t-quantity")
        page.keyboard.press("Enter")
        result = page.locator("#ticket-result")
        expect(result).not_to_have_text("")
        page.wait_for_function("() => !document.querySelector('#ticket-result').textContent.startsWith('Sending')")
        return {
            "text": result.inner_text(),
            "cl_ord_id": result.get_attribute("data-cl-ord-id"),
            "id": int(result.get_attribute("data-order-id") or 0) or None,
            "status": result.get_attribute("data-status"),
        }

    def received(self, kind: str) -> list[dict]:
        return [m for m in self.messages if m.get("type") == kind]


@pytest.fixture
def login(browser: Browser, system) -> Iterator[Callable[..., Blotter]]:
    """login("trader") -> a Blotter page of its own (a browser context: its own cookies)."""
    contexts = []

    def open_as(username: str, password: str | None = None) -> Blotter:
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        contexts.append(context)
        return Blotter(context.new_page(), system.base, username).log_in(password)

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def trader(login) -> Blotter:
    return login("trader")


@pytest.fixture
def risk(login) -> Blotter:
    return login("risk")
