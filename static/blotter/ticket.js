// The order ticket: instrument search with tick, lot and the live quote; the server's rules
// checked at each field before sending; the server's 400 shown at the field it names; a risk
// rejection shown at once with its reason and figures.

import { api, errorText, fieldErrors } from "./api.js";
import { el } from "./dom.js";
import { clOrdIdMaker, orderBody, orderProblems } from "./rules.js";

const SIDE_LABEL = { buy: "Buy", sell: "Sell", sell_short: "Sell short" };
// Where the server's field names land in the ticket ("routing.venue" is the venue select).
const FIELD_OF = { "routing.venue": "venue", "routing.venues": "venues", "routing.slices": "slices",
  "routing.strategy": "strategy", "routing.non_field_errors": "strategy", routing: "strategy",
  cl_ord_id: "non_field_errors", time_in_force: "non_field_errors", side: "non_field_errors",
  order_type: "non_field_errors" };

export function showErrors(form, problems) {
  for (const slot of form.querySelectorAll("[data-error-for]")) {
    const message = problems[slot.dataset.errorFor] ?? "";
    slot.textContent = message;
    const input = form.elements[slot.dataset.errorFor];
    if (input && input.setAttribute) input.setAttribute("aria-invalid", message ? "true" : "false");
  }
}

export class Ticket {
  constructor(form, { store, venues, username, notify }) {
    this.form = form;
    this.store = store;
    this.venues = venues; // [{name, default}]
    this.notify = notify;
    this.accounts = [];
    this.nextClOrdId = clOrdIdMaker(username);
    this.memoryKey = `oms.blotter.${username}.ticket`; // the account last traded, per user
    this.pendingClOrdId = null; // kept for a retry after no answer: the same id is safe to resend
    this.sending = false;
    this.el = (id) => form.querySelector(`#${id}`);
    this.result = this.el("ticket-result");
    this.submit = this.el("t-submit");
    this.fillVenues();
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.send();
    });
    form.addEventListener("input", () => this.update());
    form.addEventListener("change", () => this.update());
    form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.clearMessages();
    });
    this.el("t-quote").addEventListener("click", (e) => {
      const price = e.target.closest("[data-price]")?.dataset.price;
      if (price && this.form.elements.order_type.value === "limit") {
        this.form.elements.limit_price.value = price;
        this.update();
      }
    });
    this.update();
  }

  fillVenues() {
    const select = this.form.elements.venue;
    select.replaceChildren(new Option("default", ""));
    for (const venue of this.venues) select.add(new Option(venue.default ? `${venue.name} (default)` : venue.name, venue.name));
    const box = this.el("t-venues");
    box.replaceChildren(
      ...this.venues.map((venue) => {
        const label = document.createElement("label");
        const input = document.createElement("input");
        input.type = "checkbox";
        input.name = "venues";
        input.value = venue.name;
        input.checked = true;
        label.append(input, ` ${venue.name}`);
        return label;
      }),
    );
  }

  setAccounts(accounts, mayTrade) {
    this.accounts = mayTrade ? accounts : [];
    const select = this.form.elements.account;
    const current = select.value;
    select.replaceChildren(...this.accounts.map((code) => new Option(code, code)));
    const remembered = localStorage.getItem(this.memoryKey);
    if (this.accounts.includes(current)) select.value = current;
    else if (this.accounts.includes(remembered)) select.value = remembered;
    this.mayTrade = mayTrade && this.accounts.length > 0;
    this.form.classList.toggle("read-only", !this.mayTrade);
    if (!this.mayTrade) this.result.textContent = "Your role views orders; it does not enter them.";
    this.update();
  }

  setInstruments(instruments) {
    this.el("t-symbols").replaceChildren(
      ...instruments.map((i) => {
        const option = document.createElement("option");
        option.value = i.symbol;
        option.label = `${i.description} · tick ${i.tick_size} · lot ${i.lot_size}`;
        return option;
      }),
    );
    this.update();
  }

  values() {
    const f = this.form.elements;
    const venues = [...this.form.querySelectorAll('input[name="venues"]:checked')].map((i) => i.value);
    return {
      symbol: f.symbol.value.trim().toUpperCase(),
      side: f.side.value,
      account: f.account.value,
      quantity: f.quantity.value.trim(),
      order_type: f.order_type.value,
      limit_price: f.order_type.value === "limit" ? f.limit_price.value.trim() : "",
      time_in_force: f.time_in_force.value,
      strategy: f.strategy.value,
      venue: f.venue.value,
      venues,
      allVenues: this.venues.length,
      slices: f.slices.value,
    };
  }

  /** Keeps the form's shape and labels with its values; shows the quote of the instrument. */
  update() {
    const v = this.values();
    const f = this.form.elements;
    f.limit_price.disabled = v.order_type !== "limit";
    const routed = Boolean(v.strategy);
    this.el("t-venue-field").hidden = routed && v.strategy !== "direct";
    this.el("t-slices-field").hidden = v.strategy !== "slices";
    this.el("t-venues-field").hidden = !(v.strategy === "split" || v.strategy === "slices");
    f.venue.options[0].disabled = v.strategy === "direct";
    if (v.strategy === "direct" && !f.venue.value && this.venues.length) f.venue.value = this.venues[0].name;
    const price = v.order_type === "limit" && v.limit_price ? ` @ ${v.limit_price}` : v.order_type === "market" ? " MKT" : "";
    this.submit.textContent = `${SIDE_LABEL[v.side]} ${v.quantity || ""} ${v.symbol}${price}${routed ? ` · ${v.strategy}` : ""}`;
    this.submit.className = `submit wide side-${v.side}`;
    this.submit.disabled = !this.mayTrade || this.sending;
    this.showQuote(v.symbol);
  }

  showQuote(symbol) {
    const box = this.el("t-quote");
    const instrument = this.store.instruments.get(symbol);
    if (!instrument) {
      box.textContent = symbol ? "" : "Type a symbol (↓ for the list)";
      return;
    }
    const quote = this.store.market.get(symbol) ?? instrument;
    // A click on the bid or ask puts it in the limit price.
    const px = (value, side) =>
      value ? el("button", { type: "button", class: `px ${side}`, tabindex: "-1", dataset: { price: value } }, value) : "—";
    const age = quote.reference_age_s === null || quote.reference_age_s === undefined ? "" : `${Number(quote.reference_age_s).toFixed(1)}s`;
    const muted = (text) => el("span", { class: "muted" }, text);
    box.replaceChildren(
      muted("tick "), instrument.tick_size, " ", muted("lot "), instrument.lot_size, " ",
      el("span", { class: "bidask" }, px(quote.bid, "bid"), " / ", px(quote.ask, "ask")), " ",
      muted("last "), quote.last ?? "—", " ",
      el("span", { class: quote.stale ? "age stale" : "age muted", title: "reference age" }, age),
    );
  }

  clearMessages() {
    showErrors(this.form, {});
    for (const key of ["clOrdId", "orderId", "status"]) delete this.result.dataset[key];
    this.result.className = "ticket-result wide";
    this.result.textContent = "";
  }

  async send() {
    if (!this.mayTrade || this.sending) return;
    const v = this.values();
    const instrument = this.store.instruments.get(v.symbol);
    const problems = orderProblems(v, {
      instrument,
      accounts: this.accounts,
      venues: this.venues.map((x) => x.name),
    });
    showErrors(this.form, problems);
    if (Object.keys(problems).length) {
      this.result.className = "ticket-result wide error";
      this.result.textContent = "Not sent: fix the fields marked.";
      this.form.querySelector('[aria-invalid="true"]')?.focus();
      return;
    }
    const clOrdId = this.pendingClOrdId ?? this.nextClOrdId();
    this.pendingClOrdId = clOrdId;
    const body = orderBody(v, clOrdId);
    this.clearMessages();
    this.sending = true;
    this.update();
    this.result.className = "ticket-result wide";
    this.result.textContent = `Sending ${clOrdId}…`;
    const answer = await api("orders/", { method: "POST", body });
    this.sending = false;
    if (answer.status === 0 || answer.status >= 500) {
      // No answer, or the engine did not: sending again with the same cl_ord_id cannot double it.
      this.result.className = "ticket-result wide error";
      this.result.textContent = `Not confirmed: ${errorText(answer.data)}. Send again to retry ${clOrdId} safely.`;
      this.update();
      return;
    }
    this.pendingClOrdId = null;
    if (answer.status === 400) {
      const errors = {};
      for (const [field, message] of Object.entries(fieldErrors(answer.data))) {
        const slot = FIELD_OF[field] ?? field;
        const target = this.form.querySelector(`[data-error-for="${slot}"]`) ? slot : "non_field_errors";
        errors[target] = errors[target] ? `${errors[target]} ${message}` : message;
      }
      showErrors(this.form, errors);
      this.result.className = "ticket-result wide error";
      this.result.textContent = "Refused by the server: see the fields marked.";
    } else if (answer.ok) {
      localStorage.setItem(this.memoryKey, v.account);
      this.showOrder(answer.data, answer.status === 200);
    } else {
      this.result.className = "ticket-result wide error";
      this.result.textContent = errorText(answer.data);
    }
    this.update();
  }

  showOrder(order, duplicate) {
    this.result.replaceChildren();
    this.result.dataset.clOrdId = order.cl_ord_id;
    this.result.dataset.orderId = order.id;
    this.result.dataset.status = order.status;
    if (order.status === "rejected") {
      this.result.className = "ticket-result wide rejected";
      const title = document.createElement("strong");
      title.className = "reject-reason";
      title.textContent = `Rejected: ${order.reject_reason}`;
      const text = document.createElement("div");
      text.className = "reject-text";
      text.textContent = order.reject_text || order.text;
      this.result.append(title, text);
      this.notify(`${order.cl_ord_id} rejected: ${order.reject_reason}`, "error");
      return;
    }
    this.result.className = "ticket-result wide accepted";
    const what = `${SIDE_LABEL[order.side]} ${order.quantity} ${order.symbol}${order.limit_price ? ` @ ${order.limit_price}` : ""}`;
    this.result.textContent = `${duplicate ? "Already sent" : "Sent"} ${order.cl_ord_id}: ${what} → ${order.status}`;
  }

  focus() {
    this.form.elements.symbol.focus();
    this.form.elements.symbol.select();
  }
}
