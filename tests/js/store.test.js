import assert from "node:assert/strict";
import { test } from "node:test";

import { toText } from "../../static/blotter/decimal.js";
import { Store, totalPnl, unrealisedPnl } from "../../static/blotter/store.js";

const order = (id, status, extra = {}) => ({ id, status, account: "DESK-EQ", symbol: "AAPL", parent: null, ...extra });

test("a batch answers each grid's transaction: an order added then changed in one batch is one add", () => {
  const store = new Store();
  store.applySnapshot({ orders: [order(1, "new")], fills: [], positions: [], kill_switches: [] });
  const changes = store.applyBatch([
    { type: "order", position: 2, order: order(2, "pending_new"), event: "OrderAccepted" },
    { type: "order", position: 3, order: order(2, "new"), event: "OrderAcknowledged" },
    { type: "order", position: 4, order: order(1, "filled"), event: "OrderFilled" },
    { type: "fill", position: 4, fill: { id: 7, order: 1 } },
  ]);
  assert.deepEqual(changes.orders.transaction.add.map((o) => [o.id, o.status]), [[2, "new"]]);
  assert.deepEqual(changes.orders.transaction.update.map((o) => [o.id, o.status]), [[1, "filled"]]);
  assert.deepEqual(changes.fills.transaction.add.map((f) => f.id), [7]);
  assert.equal(store.orders.get(1).status, "filled");
  assert.deepEqual(changes.events.map((e) => e.event), ["OrderAccepted", "OrderAcknowledged", "OrderFilled"]);
});

test("a released kill switch leaves the engaged list", () => {
  const store = new Store();
  const firm = { scope: "firm", target: null, engaged: true };
  store.applySnapshot({ orders: [], fills: [], positions: [], kill_switches: [firm] });
  const changes = store.applyBatch([
    { type: "kill_switch", position: 9, switch: { ...firm, engaged: false }, event: "KillSwitchReleased" },
  ]);
  assert.equal(store.switches.size, 0);
  assert.equal(changes.switches.transaction.remove.length, 1);
});

test("open P&L is quantity times the move from cost, long or short, in exact decimals", () => {
  const long = { quantity: "100", avg_cost: "189.9", realized_pnl: "12.5" };
  assert.equal(toText(unrealisedPnl(long, "190.15")), "25");
  assert.equal(toText(totalPnl(long, "190.15")), "37.5");
  const short = { quantity: "-300", avg_cost: "0.3", realized_pnl: "0" };
  assert.equal(toText(unrealisedPnl(short, "0.1")), "60");
  assert.equal(unrealisedPnl(long, null), null);
  assert.equal(toText(totalPnl(long, null)), "12.5");
});

test("a market row is stale without a reference or when the reference is older than the instrument allows", () => {
  const store = new Store();
  store.applyMarket([
    { symbol: "AAPL", reference_price: "190.1", reference_age_s: 0.4, max_reference_age_s: "30", tick_size: "0.01" },
    { symbol: "VOD.L", reference_price: "71.5", reference_age_s: 45.2, max_reference_age_s: "30" },
    { symbol: "SPY", reference_price: null, reference_age_s: null, max_reference_age_s: "30" },
  ]);
  assert.deepEqual([...store.market.values()].map((q) => [q.symbol, q.stale]), [["AAPL", false], ["VOD.L", true], ["SPY", true]]);
  assert.equal(store.instruments.get("AAPL").tick_size, "0.01");
  assert.equal(store.reference("AAPL"), "190.1");
});

test("an open reconciliation break is kept until a message says it cleared or was resolved", () => {
  const store = new Store();
  const open = { id: 3, status: "open", venue: "XSIM", account: "DESK-EQ", kind: "position", subject: "AAPL" };
  store.applySnapshot({ orders: [], fills: [], positions: [], kill_switches: [], breaks: [open, { ...open, id: 2, status: "cleared" }] });
  assert.deepEqual([...store.breaks.keys()], [3]);
  const opened = store.applyBatch([{ type: "break", position: 10, break: { ...open, id: 4 } }]);
  assert.deepEqual(opened.breaks.transaction.add.map((b) => b.id), [4]);
  const resolved = store.applyBatch([{ type: "break", position: 11, break: { ...open, status: "accepted" } }]);
  assert.deepEqual(resolved.breaks.transaction.remove.map((b) => b.id), [3]);
  assert.deepEqual([...store.breaks.keys()], [4]);
});
