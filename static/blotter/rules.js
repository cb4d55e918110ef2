// The order-entry rules the server applies (orders/entry.py, and the engine's tick and lot
// checks), said again in the browser so a trader hears at once, at the field. The server checks
// everything anyway: its 400 names the same fields.

import { isMultiple, isPositive, parse, toText } from "./decimal.js";

export const STRATEGIES = ["split", "slices", "direct"];

function positiveOnStep(field, value, step, stepName) {
  if (value === "" || value === null || value === undefined) return `${field} is required`;
  const d = parse(value);
  if (d === null) return `${field} must be a number`;
  if (!isPositive(d)) return `${field} must be positive, got ${toText(d)}`;
  if (step && !isMultiple(d, step)) return `${field} ${toText(d)} is not a multiple of the ${stepName} ${toText(step)}`;
  return null;
}

/** A new order's problems, field -> message (empty when it may be sent). `instrument` gives
 * tick_size and lot_size; `accounts` the codes the user may trade; `venues` the active ones. */
export function orderProblems(values, { instrument, accounts, venues }) {
  const problems = {};
  const put = (field, message) => {
    if (message && !problems[field]) problems[field] = message;
  };
  if (!values.account) put("account", "choose an account");
  else if (accounts && !accounts.includes(values.account)) put("account", `account ${values.account} is not granted to you`);
  if (!values.symbol) put("symbol", "choose an instrument");
  else if (!instrument) put("symbol", `unknown symbol ${values.symbol}`);
  put("quantity", positiveOnStep("quantity", values.quantity, instrument?.lot_size, "lot"));
  if (values.order_type === "limit") {
    put("limit_price", positiveOnStep("limit_price", values.limit_price, instrument?.tick_size, "tick"));
    if (values.limit_price === "" || values.limit_price === undefined) {
      problems.limit_price = "a limit order needs a limit_price";
    }
  } else if (values.limit_price) {
    put("limit_price", "a market order takes no limit_price");
  }
  const strategy = values.strategy || "";
  if (strategy === "direct" && !values.venue) put("venue", "a direct route names its venue");
  if (values.venue && venues && !venues.includes(values.venue)) put("venue", `unknown or inactive venue ${values.venue}`);
  if (strategy === "slices") {
    const slices = Number(values.slices);
    if (!Number.isInteger(slices) || slices < 1 || slices > 100) put("slices", "say how many slices (1 to 100)");
  }
  if ((strategy === "split" || strategy === "slices") && values.venues && values.venues.length === 0) {
    put("venues", "choose at least one venue");
  }
  return problems;
}

/** The POST /api/v1/orders/ body for the ticket's values. */
export function orderBody(values, clOrdId) {
  const body = {
    account: values.account,
    cl_ord_id: clOrdId,
    symbol: values.symbol,
    side: values.side,
    quantity: toText(values.quantity),
    order_type: values.order_type,
    time_in_force: values.time_in_force,
  };
  if (values.order_type === "limit") body.limit_price = toText(values.limit_price);
  const strategy = values.strategy || "";
  if (!strategy) {
    if (values.venue) body.venue = values.venue;
  } else {
    const routing = { strategy };
    if (strategy === "direct") routing.venue = values.venue;
    if (strategy !== "direct" && values.venues?.length && values.venues.length < (values.allVenues ?? Infinity)) {
      routing.venues = values.venues;
    }
    if (strategy === "slices") routing.slices = Number(values.slices);
    body.routing = routing;
  }
  return body;
}

/** An amend's problems: a new quantity (on lot) and/or price (on tick), at least one changed. */
export function amendProblems(order, values, instrument) {
  const problems = {};
  const quantity = values.quantity === "" ? null : values.quantity;
  const price = values.limit_price === "" ? null : values.limit_price;
  if (quantity !== null) {
    const message = positiveOnStep("quantity", quantity, instrument?.lot_size, "lot");
    if (message) problems.quantity = message;
    else if (parse(order.cum_qty) && parse(quantity) && isBelow(quantity, order.cum_qty)) {
      problems.quantity = `quantity ${toText(quantity)} is below what is filled (${toText(order.cum_qty)})`;
    }
  }
  if (price !== null) {
    const message = positiveOnStep("limit_price", price, instrument?.tick_size, "tick");
    if (message) problems.limit_price = message;
  }
  const sameQuantity = quantity === null || toText(quantity) === toText(order.quantity);
  const samePrice = price === null || toText(price) === toText(order.limit_price ?? "");
  if (!Object.keys(problems).length && sameQuantity && samePrice) {
    problems.non_field_errors = "change the quantity or the price";
  }
  return problems;
}

function isBelow(a, b) {
  const [x, y] = [parse(a), parse(b)];
  const scale = Math.max(x.scale, y.scale);
  return x.units * 10n ** BigInt(scale - x.scale) < y.units * 10n ** BigInt(scale - y.scale);
}

/** The ticket's order ids: printable ASCII, unique per user and day without asking anyone. */
export function clOrdIdMaker(username, now = Date.now) {
  let counter = 0;
  const prefix = username.replace(/[^\x21-\x7e]/g, "").slice(0, 20) || "web";
  return () => {
    counter += 1;
    return `${prefix}-${now().toString(36).toUpperCase()}-${counter}`;
  };
}
