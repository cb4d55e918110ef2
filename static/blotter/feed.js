// The blotter's one websocket (docs/blotter.md): messages are queued as they arrive and applied
// once per animation frame, in order; a log message (order, fill, position, kill_switch, break) is
// applied only if it is newer than what its row has (see Sequencer), so a snapshot, a replay after
// a reconnect and the live stream never apply the same change twice. A closed socket reconnects
// with back-off and ?after=last.

export const LOG_TYPES = new Set(["order", "fill", "position", "kill_switch", "break"]);
export const HEARTBEAT_LATE_MS = 5000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10000;
const UNAUTHORIZED = 4401;

/** The identity of what a log message changes: one order, fill, position or kill switch. */
export function messageKey(message) {
  switch (message.type) {
    case "order":
      return `order:${message.order?.id}`;
    case "fill":
      return `fill:${message.fill?.id}`;
    case "position":
      return `position:${message.row?.account}|${message.row?.symbol}`;
    case "kill_switch":
      return `kill_switch:${message.switch?.scope}|${message.switch?.target ?? ""}`;
    case "break":
      return `break:${message.break?.id}`;
    default:
      return message.type;
  }
}

/** Which log messages to apply, and where to resume (docs/blotter.md, "Applying messages").
 *
 * Each log message updates one row (its key); a message is applied only if its position is above
 * the one last applied to that row, so a change arriving twice (a replay after a reconnect, a
 * recovery) is applied once, and rows of different accounts may arrive interleaved. A snapshot
 * covers every position up to its own. `last`, where a reconnect resumes (?after=last), moves
 * only with a snapshot, caught_up or heartbeat: everything up to it was sent. */
export class Sequencer {
  constructor() {
    this.last = null; // null before the first snapshot: connect without ?after
    this.floor = null; // the snapshot's position: nothing at or below it is applied again
    this.applied = new Map(); // row key -> position last applied
  }

  snapshot(position) {
    this.floor = position;
    this.applied.clear();
    this.last = position;
  }

  /** caught_up and heartbeat: everything up to `position` that concerns us was sent. */
  covered(position) {
    if (this.last === null || position > this.last) this.last = position;
  }

  /** Whether to apply the log message. */
  admit(message) {
    const { position } = message;
    if (this.floor !== null && position <= this.floor) return false;
    const key = messageKey(message);
    const applied = this.applied.get(key);
    if (applied !== undefined && position <= applied) return false;
    this.applied.set(key, position);
    return true;
  }
}

export function backoffMs(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  return Math.round(base * (0.75 + random() / 2));
}

function nextFrame(callback) {
  // A hidden tab gets no animation frames; a timer keeps the queue short until it is shown.
  if (typeof document !== "undefined" && document.hidden) return setTimeout(callback, 250);
  return requestAnimationFrame(callback);
}

/** The connection. Handlers: hello(user), snapshot(message), batch(messages), market(message),
 * usage(message), status({state, last, attempt}), unauthorized(). */
export class Feed {
  constructor(url, handlers, { WebSocketImpl = globalThis.WebSocket, schedule = nextFrame, now = Date.now } = {}) {
    this.url = url;
    this.handlers = handlers;
    this.WebSocketImpl = WebSocketImpl;
    this.schedule = schedule;
    this.now = now;
    this.sequencer = new Sequencer();
    this.queue = [];
    this.snapshotParts = null; // a snapshot's parts so far, until its last
    this.frameScheduled = false;
    this.socket = null;
    this.open = false;
    this.caughtUp = false;
    this.heartbeatAt = 0;
    this.attempt = 0;
    this.stopped = false;
    this.reconnectTimer = null;
    this.state = "connecting";
    this.stats = { received: 0, applied: 0, dropped: 0, connects: 0 };
  }

  get last() {
    return this.sequencer.last;
  }

  start() {
    this.stopped = false;
    this.connect();
    this.watchdog = setInterval(() => this.updateStatus(), 1000);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.reconnectTimer);
    if (this.socket) this.socket.close();
  }

  address() {
    const last = this.sequencer.last;
    return last === null ? this.url : `${this.url}?after=${last}`;
  }

  connect() {
    this.caughtUp = false;
    const socket = new this.WebSocketImpl(this.address());
    this.socket = socket;
    this.stats.connects += 1;
    socket.onopen = () => {
      this.open = true;
      this.heartbeatAt = this.now();
      this.updateStatus();
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.open = false;
      this.snapshotParts = null; // a snapshot cut short: the next connection sends its own
      this.updateStatus();
      if (event.code === UNAUTHORIZED) {
        this.stopped = true;
        this.handlers.unauthorized?.();
        return;
      }
      if (!this.stopped) {
        this.reconnectTimer = setTimeout(() => this.connect(), backoffMs(this.attempt));
        this.attempt += 1;
      }
    };
  }

  receive(data) {
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch {
      return; // not ours to guess at
    }
    // A frame holds one message, or a batch of them as an array, in log order.
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (!message || typeof message !== "object") continue;
      this.stats.received += 1;
      if (message.type === "heartbeat") this.heartbeatAt = this.now();
      this.queue.push(message);
    }
    if (!this.frameScheduled) {
      this.frameScheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** Applies what the frame's queue holds: one batch of log messages per frame, the latest market
   * and usage; a snapshot ends the batch before it (it replaces what that batch would touch). */
  flush() {
    this.frameScheduled = false;
    const queue = this.queue;
    this.queue = [];
    let batch = [];
    let market = null;
    let usage = null;
    const sendBatch = () => {
      if (batch.length) this.handlers.batch?.(batch);
      batch = [];
    };
    for (let message of queue) {
      if (LOG_TYPES.has(message.type)) {
        if (this.sequencer.admit(message)) {
          batch.push(message);
          this.stats.applied += 1;
        } else {
          this.stats.dropped += 1;
        }
        continue;
      }
      switch (message.type) {
        case "hello":
          this.attempt = 0;
          this.handlers.hello?.(message.user, message);
          break;
        case "snapshot":
          if (message.more || this.snapshotParts) {
            // A large snapshot comes in parts (a websocket message is at most 1 MiB): put them
            // together, and apply them as one when the last arrives.
            this.snapshotParts = mergeSnapshot(this.snapshotParts, message);
            if (message.more) break;
            message = this.snapshotParts;
            this.snapshotParts = null;
          }
          sendBatch();
          this.sequencer.snapshot(message.position);
          this.caughtUp = true;
          this.heartbeatAt = this.now();
          this.handlers.snapshot?.(message);
          break;
        case "caught_up":
          this.sequencer.covered(message.position);
          this.caughtUp = true;
          this.heartbeatAt = this.now();
          break;
        case "heartbeat":
          this.sequencer.covered(message.position);
          break;
        case "market":
          market = message;
          break;
        case "usage":
          usage = message;
          break;
        default:
          break; // a later protocol's message: ignored, as the protocol allows
      }
    }
    sendBatch();
    if (market) this.handlers.market?.(market);
    if (usage) this.handlers.usage?.(usage);
    this.updateStatus();
  }

  updateStatus() {
    let state;
    if (!this.open) state = this.stats.connects <= 1 && this.sequencer.last === null ? "connecting" : "reconnecting";
    else if (!this.caughtUp || this.now() - this.heartbeatAt > HEARTBEAT_LATE_MS) state = "behind";
    else state = "live";
    const changed = state !== this.state;
    this.state = state;
    this.handlers.status?.({ state, last: this.sequencer.last, changed, attempt: this.attempt });
  }
}

/** Parts of one snapshot put together: the rows of each list in the order they came. */
export function mergeSnapshot(parts, part) {
  if (!parts) return { ...part, more: false };
  const merged = { ...parts, position: part.position };
  for (const name of ["orders", "fills", "positions", "kill_switches", "breaks"]) {
    merged[name] = [...(parts[name] || []), ...(part[name] || [])];
  }
  return merged;
}
