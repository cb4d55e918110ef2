// What the blotter knows, in one place: rows keyed as the grids key them, replaced by a snapshot
// and changed by batches of log messages. Rows have the REST API's shapes (docs/blotter.md).

import { add, mul, parse, sub } from "./decimal.js";

export const DONE_STATUSES = new Set(["filled", "canceled", "rejected", "expired", "done_for_day"]);

export const positionKey = (row) => `${row.account}|${row.symbol}`;
export const switchKey = (row) => `${row.scope}|${row.target ?? ""}`;

/** Open P&L of a position at `reference`: quantity x (reference - average cost); null without a
 * reference. Exact decimals: the position's quantity is signed (short is negative). */
export function unrealisedPnl(position, reference) {
  if (reference === null || reference === undefined || parse(position.quantity)?.units === 0n) return null;
  return mul(position.quantity, sub(reference, position.avg_cost));
}

export function totalPnl(position, reference) {
  const open = unrealisedPnl(position, reference);
  return open === null ? parse(position.realized_pnl) : add(position.realized_pnl, open);
}

export function isStale(row) {
  if (row.reference_price === null || row.reference_price === undefined) return true;
  const age = row.reference_age_s;
  const limit = row.max_reference_age_s === undefined ? null : Number(row.max_reference_age_s);
  return age !== null && age !== undefined && limit !== null && age > limit;
}

function keyed(rows, key) {
  return new Map(rows.map((row) => [key(row), row]));
}

class Changes {
  constructor() {
    this.added = new Map();
    this.updated = new Map();
    this.removed = new Map();
  }

  put(key, row, existed) {
    if (this.added.has(key) || !existed) this.added.set(key, row);
    else this.updated.set(key, row);
    this.removed.delete(key);
  }

  remove(key, row) {
    if (this.added.delete(key)) return; // came and went within the batch
    this.updated.delete(key);
    this.removed.set(key, row);
  }

  get transaction() {
    return { add: [...this.added.values()], update: [...this.updated.values()], remove: [...this.removed.values()] };
  }

  get empty() {
    return !this.added.size && !this.updated.size && !this.removed.size;
  }
}

export class Store {
  constructor() {
    this.user = null;
    this.orders = new Map(); // id -> order row
    this.fills = new Map(); // id -> fill row
    this.positions = new Map(); // account|symbol -> position row
    this.switches = new Map(); // scope|target -> engaged kill switch row
    this.breaks = new Map(); // id -> open reconciliation break row (risk and compliance only)
    this.market = new Map(); // symbol -> {bid, ask, last, reference_price, reference_age_s, stale}
    this.instruments = new Map(); // symbol -> instrument row (REST): tick, lot, description
    this.usage = [];
  }

  applySnapshot(message) {
    this.orders = keyed(message.orders ?? [], (o) => o.id);
    this.fills = keyed(message.fills ?? [], (f) => f.id);
    this.positions = keyed(message.positions ?? [], positionKey);
    this.switches = keyed((message.kill_switches ?? []).filter((s) => s.engaged !== false), switchKey);
    this.breaks = keyed((message.breaks ?? []).filter((b) => b.status === "open"), (b) => b.id);
  }

  /** Applies log messages in order; answers per grid the rows added, updated and removed, and
   * the orders that changed with the event that changed them (for the drawer and the flash). */
  applyBatch(messages) {
    const orders = new Changes();
    const fills = new Changes();
    const positions = new Changes();
    const switches = new Changes();
    const breaks = new Changes();
    const events = [];
    for (const message of messages) {
      switch (message.type) {
        case "order": {
          const row = message.order;
          orders.put(row.id, row, this.orders.has(row.id));
          this.orders.set(row.id, row);
          events.push({ order: row, event: message.event, position: message.position });
          break;
        }
        case "fill": {
          const row = message.fill;
          fills.put(row.id, row, this.fills.has(row.id));
          this.fills.set(row.id, row);
          break;
        }
        case "position": {
          const row = message.row;
          const key = positionKey(row);
          positions.put(key, row, this.positions.has(key));
          this.positions.set(key, row);
          break;
        }
        case "kill_switch": {
          const row = message.switch;
          const key = switchKey(row);
          if (row.engaged === false || message.event === "KillSwitchReleased") {
            const had = this.switches.get(key);
            if (had) switches.remove(key, had);
            this.switches.delete(key);
          } else {
            switches.put(key, row, this.switches.has(key));
            this.switches.set(key, row);
          }
          break;
        }
        case "break": {
          // A break is shown while open; cleared or resolved, it leaves the panel.
          const row = message.break;
          if (row.status === "open") {
            breaks.put(row.id, row, this.breaks.has(row.id));
            this.breaks.set(row.id, row);
          } else {
            const had = this.breaks.get(row.id);
            if (had) breaks.remove(row.id, had);
            this.breaks.delete(row.id);
          }
          break;
        }
        default:
          break;
      }
    }
    return { orders, fills, positions, switches, breaks, events };
  }

  /** Instrument rows as GET /api/v1/instruments/ gives them (REST at load, `market` messages
   * after): the quote, and whether its reference is stale (none, or older than the instrument's
   * max_reference_age_s: orders would be rejected stale_reference). */
  applyMarket(instruments) {
    for (const row of instruments ?? []) {
      const quote = { ...row, stale: row.stale ?? isStale(row) };
      this.market.set(row.symbol, quote);
      if (row.tick_size) this.instruments.set(row.symbol, { ...this.instruments.get(row.symbol), ...row });
    }
  }

  reference(symbol) {
    const quote = this.market.get(symbol);
    if (quote) return quote.reference_price ?? quote.last ?? null;
    return this.instruments.get(symbol)?.reference_price ?? null;
  }

  children(parentId) {
    return [...this.orders.values()].filter((o) => o.parent === parentId);
  }
}
