import assert from "node:assert/strict";
import { test } from "node:test";

import { describe } from "../../static/blotter/drawer.js";

test("an accepted order's line shows the risk check's reference and what it was valued at", () => {
  const { line, details } = describe({
    event_type: "OrderAccepted",
    payload: {
      side: "buy", quantity: "100", symbol: "AAPL", limit_price: "190.5", order_type: "limit", time_in_force: "day",
      venue: "SIMA", risk: { reference_price: "190.15", reference_age_ms: 420, valued_at: "190.5" },
    },
  });
  assert.equal(line, "buy 100 AAPL @ 190.5 limit day, to SIMA");
  assert.deepEqual(details, [
    ["risk check: reference", "190.15 (420 ms old)"],
    ["counted in limits at", "190.5"],
  ]);
});

test("the router's decision is its text, with each child it placed", () => {
  const { line, details } = describe({
    event_type: "OrderRouted",
    payload: { text: "split by displayed liquidity", children: [{ order_id: 9, venue: "SIMB", quantity: "95" }] },
  });
  assert.equal(line, "split by displayed liquidity");
  assert.deepEqual(details, [["child 9", "95 at SIMB"]]);
});

test("a rejection names its reason, text and the figures the check saw", () => {
  const { line, details } = describe({
    event_type: "OrderRejected",
    payload: { reason: "price_band", text: "price band 10%", details: [["reference_price", "190.08"]] },
  });
  assert.equal(line, "rejected price_band: price band 10%");
  assert.deepEqual(details, [["reference price", "190.08"]]);
});

test("a fill says how much at what price; an unknown event lists its fields", () => {
  assert.equal(describe({ event_type: "OrderFilled", payload: { last_qty: "5", last_px: "10.01", exec_id: "E1" } }).line,
    "filled 5 @ 10.01");
  assert.equal(describe({ event_type: "Future", payload: { order_id: 1, at_ns: 2, colour: "red" } }).line, "colour=red");
});
