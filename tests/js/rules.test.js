import assert from "node:assert/strict";
import { test } from "node:test";

import { amendProblems, clOrdIdMaker, orderBody, orderProblems } from "../../static/blotter/rules.js";

const aapl = { symbol: "AAPL", tick_size: "0.01", lot_size: "1" };
const vod = { symbol: "VOD.L", tick_size: "0.02", lot_size: "100" };
const world = { instrument: aapl, accounts: ["DESK-EQ"], venues: ["SIMA", "SIMB"] };
const good = {
  account: "DESK-EQ", symbol: "AAPL", side: "buy", quantity: "100", order_type: "limit",
  limit_price: "190.15", time_in_force: "day", strategy: "", venue: "",
};

test("a good limit order has no problems and its body is the API's", () => {
  assert.deepEqual(orderProblems(good, world), {});
  assert.deepEqual(orderBody(good, "T-1"), {
    account: "DESK-EQ", cl_ord_id: "T-1", symbol: "AAPL", side: "buy", quantity: "100",
    order_type: "limit", time_in_force: "day", limit_price: "190.15",
  });
});

test("each problem is named at its field as the server names it", () => {
  assert.match(orderProblems({ ...good, quantity: "0" }, world).quantity, /positive/);
  assert.match(orderProblems({ ...good, quantity: "150" }, { ...world, instrument: vod }).quantity, /lot/);
  assert.match(orderProblems({ ...good, limit_price: "190.155" }, world).limit_price, /tick/);
  assert.match(orderProblems({ ...good, limit_price: "" }, world).limit_price, /needs a limit_price/);
  assert.match(orderProblems({ ...good, account: "DESK-B" }, world).account, /not granted/);
  assert.match(orderProblems({ ...good, symbol: "ZZZ" }, { ...world, instrument: undefined }).symbol, /unknown/);
  assert.match(orderProblems({ ...good, strategy: "direct" }, world).venue, /names its venue/);
  assert.match(orderProblems({ ...good, strategy: "slices", slices: "0" }, world).slices, /slices/);
});

test("routing goes in the routing object; a market order sends no price", () => {
  const split = orderBody({ ...good, order_type: "market", strategy: "split", venues: ["SIMA", "SIMB"], allVenues: 2 }, "T-2");
  assert.equal(split.limit_price, undefined);
  assert.deepEqual(split.routing, { strategy: "split" });
  const slices = orderBody({ ...good, strategy: "slices", slices: "4", venues: ["SIMB"], allVenues: 2 }, "T-3");
  assert.deepEqual(slices.routing, { strategy: "slices", venues: ["SIMB"], slices: 4 });
  assert.deepEqual(orderBody({ ...good, strategy: "direct", venue: "SIMB" }, "T-4").routing, { strategy: "direct", venue: "SIMB" });
  assert.equal(orderBody({ ...good, venue: "SIMB" }, "T-5").venue, "SIMB");
});

test("an amend changes something, on lot and tick, never below what is filled", () => {
  const order = { quantity: "100", limit_price: "190", cum_qty: "40" };
  assert.deepEqual(amendProblems(order, { quantity: "150", limit_price: "" }, aapl), {});
  assert.match(amendProblems(order, { quantity: "30", limit_price: "" }, aapl).quantity, /below what is filled/);
  assert.match(amendProblems(order, { quantity: "", limit_price: "190.001" }, aapl).limit_price, /tick/);
  assert.match(amendProblems(order, { quantity: "100", limit_price: "190" }, aapl).non_field_errors, /change/);
});

test("order ids are printable ASCII and differ each time", () => {
  const next = clOrdIdMaker("trader", () => 1700000000000);
  const [a, b] = [next(), next()];
  assert.notEqual(a, b);
  assert.match(a, /^[\x21-\x7e]{1,64}$/);
});
