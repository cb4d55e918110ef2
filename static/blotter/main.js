// The blotter page: reads who is looking from the page, loads the instruments over REST, opens
// the websocket feed and hands each frame's changes to the grids and panels.

import { api, apiList, errorText, fieldErrors } from "./api.js";
import { PnlChart } from "./chart.js";
import { format } from "./decimal.js";
import { toast } from "./dom.js";
import { Drawer } from "./drawer.js";
import { Feed } from "./feed.js";
import { FillsGrid, OrdersGrid, PositionsGrid } from "./grids.js";
import { BreaksPanel, ConnectionIndicator, KillSwitchPanel, MarketPanel, UsagePanel } from "./panels.js";
import { amendProblems } from "./rules.js";
import { Store } from "./store.js";
import { Ticket, showErrors } from "./ticket.js";

const config = JSON.parse(document.getElementById("blotter-config").textContent);
const store = new Store();
let user = null; // the hello's user: accounts and what they may do
const tradable = () => user?.granted ?? user?.accounts ?? []; // hello: granted ones trade, accounts are seen
const mayTrade = () => Boolean(user?.may_trade && tradable().length);

const $ = (selector) => document.querySelector(selector);

// -- order actions --------------------------------------------------------------------------------

async function cancelOrder(order, button) {
  button.disabled = true;
  const answer = await api(`orders/${order.id}/cancel/`, { method: "POST", body: {} });
  if (answer.status === 409) {
    toast(`Cancel of ${order.cl_ord_id} refused: ${answer.data.detail}`, "error");
    markRow(order.id, "refused");
  } else if (!answer.ok) {
    toast(`Cancel of ${order.cl_ord_id} failed: ${errorText(answer.data)}`, "error");
  } else {
    toast(`Cancel sent for ${order.cl_ord_id}`, "info", 3000);
  }
  button.disabled = false;
}

function markRow(orderId, kind) {
  const rows = document.querySelectorAll(`#orders-grid .ag-row[row-id="${orderId}"]`);
  rows.forEach((row) => row.classList.add(`row-${kind}`));
  setTimeout(() => rows.forEach((row) => row.classList.remove(`row-${kind}`)), 2000);
}

const amendDialog = $("#amend-dialog");
const amendForm = $("#amend-form");
let amending = null;

function amendOrder(order) {
  amending = store.orders.get(order.id) ?? order;
  $("#amend-title").textContent = `Amend ${amending.cl_ord_id}: ${amending.side} ${amending.quantity} ${amending.symbol}`;
  amendForm.elements.quantity.value = amending.quantity;
  amendForm.elements.limit_price.value = amending.limit_price ?? "";
  amendForm.elements.limit_price.disabled = amending.order_type !== "limit";
  showErrors(amendForm, {});
  amendDialog.showModal();
  amendForm.elements.quantity.select();
}

amendForm.querySelector("[data-close]").addEventListener("click", () => amendDialog.close());
amendForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const order = amending;
  const values = { quantity: amendForm.elements.quantity.value.trim(), limit_price: amendForm.elements.limit_price.value.trim() };
  if (order.order_type !== "limit") values.limit_price = "";
  const problems = amendProblems(order, values, store.instruments.get(order.symbol));
  showErrors(amendForm, problems);
  if (Object.keys(problems).length) return;
  const body = {};
  if (values.quantity && values.quantity !== order.quantity) body.quantity = values.quantity;
  if (values.limit_price && values.limit_price !== order.limit_price) body.limit_price = values.limit_price;
  const answer = await api(`orders/${order.id}/replace/`, { method: "POST", body });
  if (answer.ok) {
    amendDialog.close();
    toast(`Amend sent for ${order.cl_ord_id}`, "info", 3000);
  } else if (answer.status === 400) {
    const errors = fieldErrors(answer.data);
    showErrors(amendForm, { non_field_errors: answer.data.detail && !Object.keys(errors).length ? answer.data.detail : "", ...errors });
  } else {
    // 409: too late (the order is done), or another request is pending
    showErrors(amendForm, { non_field_errors: `Refused: ${errorText(answer.data)}` });
    markRow(order.id, "refused");
  }
});

// -- the page's parts -----------------------------------------------------------------------------

const drawer = new Drawer($("#drawer"), { store, onOpenOrder: (id) => drawer.open(id) });
const orders = new OrdersGrid($("#orders-grid"), {
  username: config.username,
  canTrade: mayTrade,
  onOpen: (row) => drawer.open(row.id),
  onCancel: cancelOrder,
  onAmend: amendOrder,
});
const fills = new FillsGrid($("#fills-grid"), { username: config.username, onOpenOrder: (id) => drawer.open(id) });
const positions = new PositionsGrid($("#positions-grid"), {
  username: config.username,
  reference: (symbol) => store.reference(symbol),
});
const grids = { orders, fills, positions };
const chart = new PnlChart($("#pnl-chart"));
const ticket = new Ticket($("#ticket"), { store, venues: config.venues, username: config.username, notify: toast });
const indicator = new ConnectionIndicator($("#connection"));
const market = new MarketPanel($("#market"), {
  onPick: (symbol) => {
    $("#t-symbol").value = symbol;
    ticket.update();
    $("#t-quantity").focus();
  },
});
const killSwitch = new KillSwitchPanel($("#kill-panel"), { banner: $("#halt-banner"), venues: config.venues });
const usage = new UsagePanel($("#usage-panel"));
const breaks = new BreaksPanel($("#breaks-panel"), $("#breaks-badge"));

for (const input of document.querySelectorAll("[data-quick-filter]")) {
  input.addEventListener("input", () => grids[input.dataset.quickFilter].quickFilter(input.value));
}
for (const button of document.querySelectorAll("[data-export]")) {
  button.addEventListener("click", () => grids[button.dataset.export].exportCsv());
}
for (const button of document.querySelectorAll("[data-reset-layout]")) {
  button.addEventListener("click", () => grids[button.dataset.resetLayout].resetLayout());
}
$("#show-children").addEventListener("change", (e) => orders.setShowAllChildren(e.target.checked));

document.addEventListener("keydown", (e) => {
  const typing = e.target.closest?.("input, select, textarea, dialog");
  if (e.key === "F2") {
    e.preventDefault();
    ticket.focus();
  } else if (e.key === "/" && !typing) {
    e.preventDefault();
    document.querySelector('[data-quick-filter="orders"]').focus();
  } else if (e.key === "Escape" && drawer.isOpen && !typing) {
    drawer.close();
  }
});

function showCounts() {
  $("#orders-count").textContent = `${store.orders.size}`;
  $("#fills-count").textContent = `${store.fills.size}`;
}

function samplePnl(force = false) {
  const total = chart.sample(store.positions.values(), (s) => store.reference(s), force);
  if (total !== null) {
    const text = format(total, 2);
    const box = $("#pnl-total");
    box.textContent = `P&L ${text}`;
    box.className = `count ${text.startsWith("-") ? "neg" : "pos"}`;
  }
}

// -- the feed -------------------------------------------------------------------------------------

let usageLoaded = false;
const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
const feed = new Feed(`${scheme}//${window.location.host}${config.websocket}`, {
  hello(helloUser) {
    user = helloUser;
    document.body.dataset.mayTrade = String(mayTrade());
    $("#ticket-panel").hidden = !mayTrade(); // risk and compliance watch; the ticket is for traders
    ticket.setAccounts(tradable(), Boolean(helloUser.may_trade));
    killSwitch.setUser(helloUser);
    if (helloUser.sees_all && !usageLoaded) {
      usageLoaded = true;
      loadUsage(); // then every `usage` message
    }
    orders.refreshActions([...store.orders.values()]);
  },
  snapshot(message) {
    store.applySnapshot(message);
    orders.setRows([...store.orders.values()]);
    fills.setRows([...store.fills.values()]);
    positions.setRows([...store.positions.values()]);
    killSwitch.set(store.switches.values());
    if (user?.sees_all) breaks.show(store.breaks.values()); // risk and compliance: the feed sends them breaks
    showCounts();
    samplePnl(true);
    if (drawer.isOpen) drawer.load();
  },
  batch(messages) {
    const changes = store.applyBatch(messages);
    const orderRows = changes.orders.transaction;
    orders.applyOrders(orderRows, store.orders.values());
    orders.refreshActions(orderRows.update);
    fills.apply(changes.fills.transaction);
    positions.apply(changes.positions.transaction);
    if (!changes.switches.empty) killSwitch.set(store.switches.values());
    if (!changes.breaks.empty) breaks.show(store.breaks.values());
    drawer.changed(changes.events.map((e) => e.order));
    showCounts();
    if (!changes.positions.empty) samplePnl(true);
  },
  market(message) {
    store.applyMarket(message.instruments);
    market.show([...store.market.values()]);
    positions.refreshPrices();
    ticket.showQuote(ticket.values().symbol);
    samplePnl();
  },
  usage(message) {
    usage.show(message.accounts ?? []);
  },
  status(status) {
    indicator.show(status);
  },
  unauthorized() {
    window.location.assign("/login/?next=/");
  },
});

async function loadInstruments() {
  const instruments = await apiList("instruments/");
  for (const instrument of instruments) store.instruments.set(instrument.symbol, instrument);
  ticket.setInstruments(instruments);
  store.applyMarket(instruments);
  market.show([...store.market.values()]);
}

async function loadUsage() {
  const answer = await api("risk/usage/");
  if (answer.ok) usage.show(answer.data);
}

loadInstruments();
feed.start();

// For people at the console and the browser tests: what the page holds and where the feed is.
window.blotter = { config, store, feed, grids, drawer, ticket };
