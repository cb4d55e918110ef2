import assert from "node:assert/strict";
import { test } from "node:test";

import { add, compare, format, isMultiple, isPositive, mul, parse, sub, toNumber, toText } from "../../static/blotter/decimal.js";

test("a price on the tick is a whole number of ticks, without float error", () => {
  assert.equal(isMultiple("190.15", "0.01"), true);
  assert.equal(isMultiple("0.3", "0.1"), true); // 0.3 % 0.1 != 0 in floats
  assert.equal(isMultiple("190.155", "0.01"), false);
  assert.equal(isMultiple("150.04", "0.02"), true);
  assert.equal(isMultiple("150.03", "0.02"), false);
  assert.equal(isMultiple("250", "100"), false);
  assert.equal(isMultiple("300", "100"), true);
});

test("arithmetic is exact and formatting rounds half away from zero", () => {
  assert.equal(toText(add("0.1", "0.2")), "0.3");
  assert.equal(toText(mul("100", sub("190.15", "189.5"))), "65");
  assert.equal(format(mul("-3", "0.005"), 2), "-0.02");
  assert.equal(format("1.005", 2), "1.01");
  assert.equal(format("-0.001", 2), "0.00");
  assert.equal(format("12", 2), "12.00");
  assert.equal(compare("10", "9.99"), 1);
  assert.equal(toNumber("-1.25"), -1.25);
});

test("only plain decimal text parses; positive means above zero", () => {
  assert.equal(parse("abc"), null);
  assert.equal(parse(""), null);
  assert.equal(parse("1e3"), null);
  assert.deepEqual(parse(".5"), { units: 5n, scale: 1 });
  assert.equal(isPositive("0"), false);
  assert.equal(isPositive("-1"), false);
  assert.equal(isPositive("0.01"), true);
});
