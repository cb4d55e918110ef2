import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { Feed, LOG_TYPES, Sequencer, backoffMs, messageKey } from "../../static/blotter/feed.js";

class FakeSocket {
  static made = [];
  constructor(url) {
    this.url = url;
    FakeSocket.made.push(this);
  }
  opened() {
    this.onopen?.();
  }
  send(message) {
    this.onmessage({ data: JSON.stringify(message) });
  }
  close(code = 1006) {
    this.onclose?.({ code });
  }
}

function harness() {
  FakeSocket.made = [];
  const frames = [];
  const seen = { batches: [], snapshots: [], snapshotRows: [], hellos: [], markets: [], states: [], unauthorized: 0 };
  const feed = new Feed(
    "ws://oms/ws/blotter/",
    {
      hello: (user) => seen.hellos.push(user),
      snapshot: (m) => seen.snapshots.push(m.position) && seen.snapshotRows.push(m.orders.map((o) => o.id)),
      batch: (messages) => seen.batches.push(messages.map((m) => `${m.type}@${m.position}`)),
      market: (m) => seen.markets.push(m.position),
      status: (s) => seen.states.push(s.state),
      unauthorized: () => (seen.unauthorized += 1),
    },
    { WebSocketImpl: FakeSocket, schedule: (fn) => frames.push(fn) },
  );
  const frame = () => frames.splice(0).forEach((fn) => fn());
  return { feed, seen, frame, socket: () => FakeSocket.made.at(-1) };
}

let feeds = [];
afterEach(() => feeds.splice(0).forEach((f) => f.stop()));

const snapshot = (position) => ({ type: "snapshot", position, orders: [], fills: [], positions: [], kill_switches: [] });
const order = (position, id = 1) => ({ type: "order", position, order: { id } });
const fill = (position, id) => ({ type: "fill", position, fill: { id } });

test("a frame's log messages are applied as one batch, in order, each change once", () => {
  const { feed, seen, frame, socket } = harness();
  feeds.push(feed);
  feed.start();
  socket().opened();
  socket().send({ type: "hello", position: 10, user: { username: "trader" } });
  socket().send(snapshot(10));
  socket().send(order(9)); // in the snapshot already
  socket().send(order(10, 2)); // the snapshot is inclusive
  socket().send([order(11), fill(11, 7), { type: "position", position: 11, row: { account: "A", symbol: "X" } }]);
  socket().send({ type: "market", position: 11, instruments: [] });
  socket().send({ type: "market", position: 12, instruments: [] });
  assert.deepEqual(seen.batches, []); // nothing before the frame
  frame();
  assert.deepEqual(seen.snapshots, [10]);
  assert.deepEqual(seen.batches, [["order@11", "fill@11", "position@11"]]);
  assert.deepEqual(seen.markets, [12]); // only the latest market of the frame
  assert.equal(feed.last, 10); // only a snapshot, caught_up or heartbeat moves it
  assert.equal(feed.state, "live");
  socket().send({ type: "kill_switch", position: 11, switch: { scope: "firm" } }); // a sibling, a frame later
  socket().send({ type: "heartbeat", position: 15 });
  socket().send(order(11)); // again: already applied
  socket().send(order(14, 3)); // another account's row may come after a higher position
  frame();
  assert.deepEqual(seen.batches.at(-1), ["kill_switch@11", "order@14"]);
  assert.equal(feed.last, 15);
});

test("a reconnect asks for what came after the last position and applies each change once", () => {
  const { feed, seen, frame, socket } = harness();
  feeds.push(feed);
  feed.start();
  socket().opened();
  socket().send({ type: "hello", position: 20, user: {} });
  socket().send(snapshot(20));
  socket().send(order(21));
  socket().send({ type: "heartbeat", position: 21 });
  socket().send(order(22, 2));
  frame();
  socket().close();
  assert.equal(feed.state, "reconnecting");
  const first = socket();
  feed.connect(); // what the back-off timer does
  assert.notEqual(socket(), first);
  assert.equal(socket().url, "ws://oms/ws/blotter/?after=21");
  socket().opened();
  socket().send({ type: "hello", position: 30, user: {} });
  socket().send([order(22, 2), fill(22, 5), order(23, 3)]); // order 2 at 22 came before the drop
  frame();
  assert.equal(feed.state, "behind"); // replaying
  socket().send({ type: "caught_up", position: 30 });
  frame();
  assert.equal(feed.state, "live");
  assert.equal(feed.last, 30);
  assert.deepEqual(seen.batches, [["order@21", "order@22"], ["fill@22", "order@23"]]);
  assert.equal(feed.stats.dropped, 1);
});

test("a heartbeat moves last, so the next reconnect does not re-read other accounts' events", () => {
  const { feed, frame, socket } = harness();
  feeds.push(feed);
  feed.start();
  socket().opened();
  socket().send({ type: "hello", position: 5, user: {} });
  socket().send(snapshot(5));
  socket().send({ type: "heartbeat", position: 40 });
  frame();
  socket().close();
  feed.connect();
  assert.equal(socket().url, "ws://oms/ws/blotter/?after=40");
});

test("no heartbeat for five seconds is behind; an unauthenticated close stops reconnecting", () => {
  let now = 0;
  FakeSocket.made = [];
  const states = [];
  let unauthorized = 0;
  const frames = [];
  const feed = new Feed(
    "ws://x/",
    { status: (s) => states.push(s.state), unauthorized: () => (unauthorized += 1) },
    { WebSocketImpl: FakeSocket, schedule: (fn) => frames.push(fn), now: () => now },
  );
  feeds.push(feed);
  feed.start();
  const socket = FakeSocket.made.at(-1);
  socket.opened();
  socket.send({ type: "hello", position: 1, user: {} });
  socket.send(snapshot(1));
  frames.splice(0).forEach((fn) => fn());
  assert.equal(feed.state, "live");
  now = 5001;
  feed.updateStatus();
  assert.equal(feed.state, "behind");
  socket.send({ type: "heartbeat", position: 2 });
  frames.splice(0).forEach((fn) => fn());
  assert.equal(feed.state, "live");
  socket.close(4401);
  assert.equal(unauthorized, 1);
  assert.equal(feed.reconnectTimer, null);
});

test("the sequencer applies a row's changes in order, once, above what the snapshot covered", () => {
  const s = new Sequencer();
  s.snapshot(100);
  assert.equal(s.admit(order(100)), false); // in the snapshot
  assert.equal(s.admit(order(101)), true);
  assert.equal(s.admit(fill(101, 7)), true); // the same event's other row
  assert.equal(s.admit(order(101)), false); // again (a replay): no
  assert.equal(s.admit(order(104, 2)), true);
  assert.equal(s.admit(order(103, 3)), true); // another row, interleaved: fine
  assert.equal(s.admit(order(102, 2)), false); // older than what row 2 has
  assert.equal(s.last, 100);
  s.covered(103);
  s.covered(102); // never backwards
  assert.equal(s.last, 103);
});

test("back-off doubles up to ten seconds, with jitter", () => {
  assert.equal(backoffMs(0, () => 0.5), 500);
  assert.equal(backoffMs(3, () => 0.5), 4000);
  assert.equal(backoffMs(10, () => 0.5), 10000);
  assert.equal(backoffMs(10, () => 0), 7500);
});

test("a snapshot in parts is applied once, whole, when its last part arrives", () => {
  const { feed, seen, frame, socket } = harness();
  feeds.push(feed);
  feed.start();
  socket().opened();
  const part = (ids, more) => ({ ...snapshot(20), orders: ids.map((id) => ({ id })), ...(more ? { more } : {}) });
  socket().send(part([1, 2], true));
  frame();
  assert.deepEqual(seen.snapshots, []); // not before the last part
  socket().send(part([3], true));
  socket().send(part([4], false));
  frame();
  assert.deepEqual(seen.snapshots, [20]);
  assert.deepEqual(seen.snapshotRows, [[1, 2, 3, 4]]);
  // a connection that drops mid-snapshot starts the next one afresh
  socket().send(part([5], true));
  frame();
  socket().close();
  assert.equal(feed.snapshotParts, null);
});

test("a break message is keyed by the break's id and sequenced like any log message", () => {
  assert.equal(messageKey({ type: "break", position: 5, break: { id: 12 } }), "break:12");
  assert.ok(LOG_TYPES.has("break"));
});
