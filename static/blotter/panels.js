// The side panels and the header: connection indicator, market, kill switch, risk usage,
// reconciliation breaks.

import { api, errorText } from "./api.js";
import { format } from "./decimal.js";
import { confirmDialog, el, timeOf, toast } from "./dom.js";

export class ConnectionIndicator {
  constructor(element) {
    this.element = element;
    this.stateText = element.querySelector(".state");
    this.positionText = element.querySelector(".position");
  }

  show({ state, last, attempt }) {
    this.element.className = `connection state-${state}`;
    this.element.dataset.state = state;
    this.element.dataset.last = last ?? "";
    this.stateText.textContent = state === "reconnecting" && attempt > 1 ? `reconnecting (${attempt})` : state;
    this.positionText.textContent = last === null || last === undefined ? "" : `@${last}`;
    this.element.title = `Websocket feed: ${state}; last event position ${last ?? "none"}`;
  }
}

export class MarketPanel {
  constructor(table, { onPick }) {
    this.body = table.querySelector("tbody");
    this.rows = new Map();
    this.onPick = onPick;
  }

  show(instruments) {
    for (const q of instruments) {
      let row = this.rows.get(q.symbol);
      if (!row) {
        row = el("tr", { dataset: { symbol: q.symbol }, class: "link", onclick: () => this.onPick(q.symbol) });
        this.rows.set(q.symbol, row);
        const sorted = [...this.rows.keys()].sort();
        this.body.replaceChildren(...sorted.map((s) => this.rows.get(s)));
      }
      const previous = row.dataset.last;
      const age = q.reference_age_s === null || q.reference_age_s === undefined ? "—" : `${Number(q.reference_age_s).toFixed(1)}s`;
      row.classList.toggle("stale", Boolean(q.stale));
      row.title = q.stale ? `${q.symbol}: the reference is stale; orders are rejected (stale_reference)` : "";
      row.replaceChildren(
        el("td", {}, q.symbol, q.stale ? el("span", { class: "stale-tag" }, "stale") : null),
        el("td", { class: "num bid" }, q.bid ?? "—"),
        el("td", { class: "num ask" }, q.ask ?? "—"),
        el("td", { class: `num ${tick(previous, q.last)}` }, q.last ?? "—"),
        el("td", { class: "num" }, q.reference_price ?? "—"),
        el("td", { class: "num age" }, age),
      );
      row.dataset.last = q.last ?? "";
    }
  }
}

function tick(previous, now) {
  if (!previous || !now || previous === now) return "";
  return Number(now) > Number(previous) ? "up" : "down";
}

const SCOPE_TEXT = {
  firm: () => "the whole firm",
  account: (t) => `account ${t}`,
  trader: (t) => `trader ${t}`,
  venue: (t) => `venue ${t}`,
};

export function scopeText(scope, target) {
  return (SCOPE_TEXT[scope] ?? ((t) => `${scope} ${t}`))(target);
}

/** Engaged switches for everyone; engage (with a confirmation naming the scope) for those the
 * hello says may engage; release for the risk role only. */
export class KillSwitchPanel {
  constructor(panel, { banner, venues }) {
    this.list = panel.querySelector("#kill-list");
    this.form = panel.querySelector("#kill-form");
    this.targetBox = panel.querySelector("#k-target-box");
    this.error = panel.querySelector('[data-error-for="kill"]');
    this.banner = banner;
    this.venues = venues;
    this.user = null;
    this.switches = [];
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.engage();
    });
    this.form.elements.scope.addEventListener("change", () => this.targetField());
  }

  setUser(user) {
    this.user = user;
    const scopes = user.may_release ? ["firm", "account", "trader", "venue"] : ["account"];
    this.form.hidden = !user.may_engage;
    const select = this.form.elements.scope;
    const current = select.value;
    select.replaceChildren(...scopes.map((s) => new Option(s, s)));
    if (scopes.includes(current)) select.value = current;
    this.targetField();
    this.render();
  }

  targetField() {
    const scope = this.form.elements.scope.value;
    let input = null;
    if (scope === "account") {
      // The risk role stops any account it sees; a trader the ones granted to them.
      const codes = this.user?.may_release ? this.user.accounts : (this.user?.granted ?? this.user?.accounts);
      input = el("select", { id: "k-target", name: "target", "aria-label": "Account" });
      for (const code of codes ?? []) input.add(new Option(code, code));
    } else if (scope === "venue") {
      input = el("select", { id: "k-target", name: "target", "aria-label": "Venue" });
      for (const v of this.venues) input.add(new Option(v.name, v.name));
    } else if (scope === "trader") {
      input = el("input", { id: "k-target", name: "target", placeholder: "username", "aria-label": "Trader" });
    }
    this.targetBox.replaceChildren(...(input ? [input] : []));
  }

  set(switches) {
    this.switches = [...switches].sort((a, b) => (a.engaged_at ?? "").localeCompare(b.engaged_at ?? ""));
    this.render();
  }

  render() {
    const items = this.switches.map((s) => {
      const release = this.user?.may_release
        ? el("button", { type: "button", class: "mini", "aria-label": `Release ${scopeText(s.scope, s.target)}`,
            onclick: () => this.release(s) }, "Release")
        : null;
      return el("li", { class: "engaged", dataset: { scope: s.scope, target: s.target ?? "" } },
        el("strong", {}, `HALT ${scopeText(s.scope, s.target)}`),
        el("span", { class: "muted" }, ` by ${s.engaged_by ?? "?"} at ${timeOf(s.engaged_at)}`),
        s.reason ? el("div", { class: "reason" }, s.reason) : null,
        release);
    });
    this.list.replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "none engaged")]));
    const firm = this.switches.find((s) => s.scope === "firm");
    this.banner.hidden = this.switches.length === 0;
    this.banner.textContent = firm
      ? "FIRM KILL SWITCH ENGAGED"
      : `Kill switch: ${this.switches.map((s) => scopeText(s.scope, s.target)).join(", ")}`;
    this.banner.classList.toggle("firm", Boolean(firm));
  }

  async engage() {
    const scope = this.form.elements.scope.value;
    const target = this.form.querySelector("#k-target")?.value?.trim() || null;
    const typed = this.form.elements.reason.value.trim();
    this.error.textContent = "";
    if (scope !== "firm" && !target) {
      this.error.textContent = `a ${scope} kill switch needs a target`;
      return;
    }
    const reason = await confirmDialog({
      title: "Engage the kill switch",
      text: `Engage the kill switch for ${scopeText(scope, target)}? New orders in scope are rejected and its live orders are canceled.`,
      action: `Engage: ${scopeText(scope, target)}`,
      askReason: !typed,
    });
    if (reason === null) return;
    const body = { scope, reason: typed || reason };
    if (scope !== "firm") body.target = target;
    const answer = await api("kill-switch/engage/", { method: "POST", body });
    if (answer.ok) {
      this.form.elements.reason.value = "";
      toast(`Kill switch engaged for ${scopeText(scope, target)}. ${answer.data.detail ?? ""}`, "warn");
    } else {
      this.error.textContent = errorText(answer.data);
    }
  }

  async release(s) {
    const reason = await confirmDialog({
      title: "Release the kill switch",
      text: `Release the kill switch for ${scopeText(s.scope, s.target)}? Trading in scope may resume.`,
      action: `Release: ${scopeText(s.scope, s.target)}`,
      askReason: true,
    });
    if (reason === null) return;
    const body = { scope: s.scope, reason };
    if (s.target) body.target = s.target;
    const answer = await api("kill-switch/release/", { method: "POST", body });
    if (answer.ok) toast(`Kill switch released for ${scopeText(s.scope, s.target)}.`, "info");
    else toast(`Release refused: ${errorText(answer.data)}`, "error");
  }
}

function meter(label, used, limit) {
  const pct = limit ? Math.min(100, (Number(used) / Number(limit)) * 100) : 0;
  const level = pct >= 90 ? "high" : pct >= 70 ? "mid" : "low";
  return el("div", { class: "meter-row" },
    el("span", { class: "meter-label" }, label),
    el("span", { class: "meter" }, el("span", { class: `fill ${level}`, style: `width:${pct.toFixed(1)}%` })),
    el("span", { class: "num" }, `${format(used, 0)} / ${limit ? format(limit, 0) : "∞"}`));
}

/** What each account uses of its limits: gross notional, credit, and per symbol the position
 * against its limit with the pending orders counted. */
export class UsagePanel {
  constructor(panel) {
    this.panel = panel;
    this.box = panel.querySelector("#usage");
  }

  show(accounts) {
    this.panel.hidden = false;
    this.box.replaceChildren(
      ...accounts.map((a) =>
        el("div", { class: "usage-account", dataset: { account: a.account } },
          el("h4", {}, a.account),
          meter("gross", a.gross_notional, a.limits?.max_gross_notional),
          meter("credit", a.credit_used, a.limits?.credit_limit),
          a.symbols?.length
            ? el("table", { class: "compact" },
                el("thead", {}, el("tr", {}, ["Sym", "Pos", "Pend B", "Pend S", "Limit", "Room B"].map((h) => el("th", {}, h)))),
                el("tbody", {}, a.symbols.map((s) => el("tr", {},
                  el("td", {}, s.symbol), el("td", { class: "num" }, s.position),
                  el("td", { class: "num" }, s.pending_buy), el("td", { class: "num" }, s.pending_sell),
                  el("td", { class: "num" }, s.max_position_qty ?? "∞"),
                  el("td", { class: "num" }, s.position_headroom_buy ?? "∞")))))
            : null),
      ),
    );
  }
}

/** Open reconciliation breaks (risk and compliance): a count in the header and one line per
 * break; resolving is in admin or the REST API (POST /api/v1/reconciliation/breaks/{id}/resolve/). */
export class BreaksPanel {
  constructor(panel, badge) {
    this.panel = panel;
    this.badge = badge;
    this.box = panel.querySelector("#breaks");
  }

  show(breaks) {
    const open = [...breaks].sort((a, b) => a.id - b.id);
    this.panel.hidden = false;
    this.badge.hidden = open.length === 0;
    this.badge.textContent = `${open.length} break${open.length === 1 ? "" : "s"}`;
    this.panel.dataset.open = String(open.length);
    this.box.replaceChildren(
      open.length
        ? el("table", { class: "compact" },
            el("thead", {}, el("tr", {}, ["#", "Venue", "Account", "What", "OMS", "Venue", "Since"].map((h) => el("th", {}, h)))),
            el("tbody", {}, open.map((b) => el("tr", { class: "break-row", dataset: { breakId: String(b.id) }, title: b.text },
              el("td", {}, el("a", { href: `/admin/reconciliation/reconciliationbreak/${b.id}/resolve/` }, String(b.id))),
              el("td", {}, b.venue), el("td", {}, b.account), el("td", {}, `${b.kind} ${b.subject}`),
              el("td", { class: "num" }, b.kind === "order" ? b.oms_status : format(b.oms_quantity)),
              el("td", { class: "num" }, b.kind === "order" ? b.venue_status : format(b.venue_quantity)),
              el("td", {}, timeOf(b.opened_at))))))
        : el("p", { class: "muted" }, "no open breaks"),
    );
  }
}
