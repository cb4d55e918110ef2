// The order drawer: the order's event timeline (time, actor, what changed, the risk check's
// reference price), its fills, and for a parent its children and the router's reasoning (the
// OrderRouted event's text). Refreshed when the feed changes the order or one of its children.

import { api, errorText } from "./api.js";
import { el } from "./dom.js";

const precise = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit", minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3, hour12: false,
});

function at(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : precise.format(date);
}

const px = (value) => (value === null || value === undefined ? "MKT" : value);

/** What an event changed, for people: a line, and optional detail rows. */
export function describe(event) {
  const p = event.payload ?? {};
  const details = [];
  let line;
  switch (event.event_type) {
    case "OrderAccepted": {
      const where = p.venue ? `to ${p.venue}` : `as a ${p.strategy} parent`;
      line = `${p.side} ${p.quantity} ${p.symbol} @ ${px(p.limit_price)} ${p.order_type} ${p.time_in_force}, ${where}`;
      if (p.risk) {
        const age = p.risk.reference_age_ms === null ? "" : ` (${p.risk.reference_age_ms} ms old)`;
        details.push(["risk check: reference", `${p.risk.reference_price ?? "none"}${age}`]);
        if (p.risk.valued_at) details.push(["counted in limits at", p.risk.valued_at]);
      } else if (p.parent_id) {
        details.push(["child of", `order ${p.parent_id} (risk checked there)`]);
      }
      break;
    }
    case "OrderRejected":
      line = `rejected ${p.reason}: ${p.text}`;
      for (const [name, value] of p.details ?? []) details.push([name.replaceAll("_", " "), value]);
      break;
    case "OrderAcknowledged":
      line = `venue accepted${p.venue_order_id ? `, venue order ${p.venue_order_id}` : ""}`;
      break;
    case "OrderVenueRejected":
      line = `venue rejected: ${p.text}`;
      break;
    case "OrderPartiallyFilled":
    case "OrderFilled":
      line = `${event.event_type === "OrderFilled" ? "filled" : "fill"} ${p.last_qty} @ ${p.last_px}`;
      details.push(["exec id", p.exec_id]);
      break;
    case "OrderCancelRequested":
      line = `cancel requested (${p.cl_ord_id})`;
      break;
    case "OrderCancelRejected":
    case "OrderReplaceRejected":
      line = `${event.event_type === "OrderCancelRejected" ? "cancel" : "replace"} refused ${p.reason}: ${p.text}`;
      for (const [name, value] of p.details ?? []) details.push([name.replaceAll("_", " "), value]);
      break;
    case "OrderCanceled":
      line = "canceled";
      break;
    case "OrderReplaceRequested":
      line = `replace requested: quantity ${p.quantity}, price ${px(p.limit_price)} (${p.cl_ord_id})`;
      break;
    case "OrderReplaced":
      line = `replaced: quantity ${p.quantity}, price ${px(p.limit_price)} (${p.cl_ord_id})`;
      break;
    case "ParentReplaced":
      line = `parent replaced: quantity ${p.quantity}, price ${px(p.limit_price)}${p.text ? `: ${p.text}` : ""}`;
      break;
    case "OrderRouted":
      line = p.text;
      for (const child of p.children ?? []) details.push([`child ${child.order_id}`, `${child.quantity} at ${child.venue}`]);
      break;
    case "OrderExpired":
      line = "expired";
      break;
    case "OrderDoneForDay":
      line = "done for day";
      break;
    case "FillBusted":
      line = `fill ${p.ref_exec_id} busted (${p.last_qty} @ ${p.last_px}): ${p.text}`;
      break;
    case "FillCorrected":
      line = `fill ${p.ref_exec_id} corrected ${p.old_last_qty} @ ${p.old_last_px} → ${p.last_qty} @ ${p.last_px}`;
      break;
    case "OrderRestated":
      line = `restated: quantity ${p.quantity}, price ${px(p.limit_price)}: ${p.text}`;
      break;
    case "ParentQuantityRaised":
      line = `quantity raised to ${p.quantity}: ${p.text}`;
      break;
    case "ExecutionAnomalyRecorded":
      line = `anomaly ${p.reason}: ${p.text}`;
      break;
    default:
      line = Object.entries(p)
        .filter(([k]) => k !== "order_id" && k !== "at_ns")
        .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
        .join(" ");
  }
  return { line, details };
}

export class Drawer {
  constructor(element, { store, onOpenOrder }) {
    this.element = element;
    this.body = element.querySelector("#drawer-body");
    this.title = element.querySelector("#drawer-title");
    this.store = store;
    this.onOpenOrder = onOpenOrder;
    this.orderId = null;
    this.timer = null;
    this.loading = 0;
    element.querySelector("#drawer-close").addEventListener("click", () => this.close());
    element.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.close();
    });
  }

  get isOpen() {
    return this.orderId !== null;
  }

  close() {
    this.orderId = null;
    this.element.classList.remove("open");
    this.element.setAttribute("aria-hidden", "true");
  }

  open(orderId) {
    this.orderId = orderId;
    this.element.classList.add("open");
    this.element.setAttribute("aria-hidden", "false");
    this.element.focus();
    this.load();
  }

  /** The feed changed these orders: reload if one of them is shown, or is a child of it. */
  changed(orders) {
    if (!this.isOpen) return;
    if (orders.some((o) => o.id === this.orderId || o.parent === this.orderId)) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.load(), 250);
    }
  }

  async load() {
    const id = this.orderId;
    const ticket = ++this.loading;
    const [events, fills] = await Promise.all([api(`orders/${id}/events/`), api(`fills/?order=${id}&limit=500`)]);
    if (ticket !== this.loading || id !== this.orderId) return; // a newer load, or closed
    const order = this.store.orders.get(id) ?? (await api(`orders/${id}/`)).data;
    this.render(order, events, fills);
  }

  render(order, events, fills) {
    this.title.textContent = order ? `${order.cl_ord_id} · ${order.symbol}` : `Order ${this.orderId}`;
    const parts = [];
    if (order) parts.push(this.summary(order));
    if (order?.strategy) parts.push(this.children(order, events.ok ? events.data : []));
    parts.push(el("h3", {}, "Timeline"));
    if (!events.ok) parts.push(el("p", { class: "error" }, errorText(events.data)));
    else parts.push(this.timeline(events.data));
    parts.push(el("h3", {}, "Fills"));
    parts.push(this.fills(fills.ok ? fills.data.results ?? fills.data : []));
    this.body.replaceChildren(...parts);
  }

  summary(order) {
    const row = (name, value, cls) => [el("dt", {}, name), el("dd", { class: cls }, value ?? "")];
    return el(
      "dl", { class: "summary" },
      row("status", order.status, `status status-${order.status}`),
      row("account", order.account),
      row("side / qty", `${order.side} ${order.quantity}`),
      row("price", `${px(order.limit_price)} ${order.time_in_force}`),
      row("route", order.venue || order.strategy),
      row("cum / leaves", `${order.cum_qty} / ${order.leaves_qty}`),
      row("avg px", order.avg_px),
      order.parent ? row("parent", el("a", { href: "#", onclick: (e) => { e.preventDefault(); this.onOpenOrder(order.parent); } }, `order ${order.parent}`)) : [],
      order.status === "rejected" ? row("rejected", `${order.reject_reason}: ${order.reject_text}`, "error") : [],
      order.text && order.status !== "rejected" ? row("text", order.text) : [],
    );
  }

  children(order, events) {
    const routed = events.filter((e) => e.event_type === "OrderRouted");
    const kids = this.store.children(order.id).sort((a, b) => a.id - b.id);
    return el(
      "section", { class: "router" },
      el("h3", {}, "Router"),
      routed.length
        ? routed.map((e) => el("p", { class: "reasoning" }, e.payload.text))
        : el("p", { class: "muted" }, "no routing decision yet"),
      el("table", { class: "compact" },
        el("thead", {}, el("tr", {}, ["Child", "Venue", "Qty", "Status", "Cum", "Avg px"].map((h) => el("th", {}, h)))),
        el("tbody", {}, kids.map((c) => el("tr", { class: "link", onclick: () => this.onOpenOrder(c.id) },
          el("td", {}, c.cl_ord_id), el("td", {}, c.venue), el("td", { class: "num" }, c.quantity),
          el("td", { class: `status status-${c.status}` }, c.status), el("td", { class: "num" }, c.cum_qty),
          el("td", { class: "num" }, c.avg_px)))),
      ),
    );
  }

  timeline(events) {
    return el(
      "ol", { class: "timeline" },
      events.map((event) => {
        const { line, details } = describe(event);
        return el("li", { class: `event event-${event.event_type}`, dataset: { position: event.position } },
          el("div", { class: "event-head" },
            el("time", { datetime: event.occurred_at }, at(event.occurred_at)),
            el("span", { class: "event-type" }, event.event_type),
            el("span", { class: "actor" }, event.actor || "")),
          el("div", { class: "event-line" }, line),
          details.length ? el("dl", { class: "event-details" }, details.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])) : null);
      }),
    );
  }

  fills(rows) {
    if (!rows.length) return el("p", { class: "muted" }, "no fills");
    return el("table", { class: "compact fills" },
      el("thead", {}, el("tr", {}, ["Time", "Order", "Qty", "Price", "ExecID"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((f) => el("tr", {},
        el("td", {}, at(f.executed_at)), el("td", {}, f.order), el("td", { class: "num" }, f.last_qty),
        el("td", { class: "num" }, f.last_px), el("td", { class: "mono" }, f.exec_id)))),
    );
  }
}
