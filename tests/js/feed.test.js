import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { Feed, Sequencer, backoffMs } from "../../static/blotter/feed.js";

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
  const seen = { batches: [], snapshots: [], hellos: [], markets: [], states: [], unauthorized: 0 };
  const feed = new Feed(
    "ws://oms/ws/blotter/",
    {
      hello: (user) => seen.hellos.push(user),
      snapshot: (m) => seen.snapshots.push(m.position),
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

test("a frame's log messages are applied as one batch, in order, each position once", () => {
  const { feed, seen, frame, socket } = harness();
  feeds.push(feed);
  feed.start();
  socket().opened();
  socket().send({ type: "hello", position: 10, user: { username: "trader" } });
  socket().send({ type: "snapshot", position: 10, orders: [], fills: [], positions: [], kill_switches: [] });
  socket().send({ type: "order", position: 9, order: {} }); // in the snapshot already
  socket().send({ type: "order", position: 10, order: {} }); // the snapshot is inclusive
  socket().send({ type: "order", position: 11, order: {} });
  socket().send({ type: "fill", position: 11, fill: {} }); // same event, its sibling
  socket().send({ type: "position", position: 11, row: {} });
  socket().send({ type: "market", position: 11, instruments: [] });
  socket().send({ type: "market", position: 12, instruments: [] });
  assert.deepEqual(seen.batches, []); // nothing before the frame
  frame();
  assert.deepEqual(seen.snapshots, [10]);
  assert.deepEqual(seen.batches, [["order@11", "fill@11", "position@11"]]);
  assert.deepEqual(seen.markets, [12]); // only the latest market of the frame
  assert.equal(feed.last, 11);
  assert.equal(feed.state, "live");
  socket().send({ type: "kill_switch", position: 11, switch: {} }); // a sibling arriving a frame later
  socket().send({ type: "heartbeat", position: 15 });
  socket().send({ type: "order", position: 14, order: {} }); // sent before the heartbeat, or never
  frame();
  assert.deepEqual(seen.batches.at(-1), ["kill_switch@11"]);
  assert.equal(feed.last, 15);
});

test("a reconnect asks for what came after the last position and skips what it had", () => {
  const { feed, seen, frame, socket } = harness();
  feeds.push(feed);
  feed.start();
  socket().opened();
  socket().send({ type: "hello", position: 20, user: {} });
  socket().send({ type: "snapshot", position: 20, orders: [], fills: [], positions: [], kill_switches: [] });
  socket().send({ type: "order", position: 21, order: {} });
  frame();
  socket().close();
  assert.equal(feed.state, "reconnecting");
  const first = socket();
  feed.connect(); // what the back-off timer does
  assert.notEqual(socket(), first);
  // The drop may have cut event 21's messages short: resume one position earlier.
  assert.equal(socket().url, "ws://oms/ws/blotter/?after=20");
  socket().opened();
  socket().send({ type: "hello", position: 30, user: {} });
  socket().send({ type: "order", position: 21, order: {} }); // applied before the drop: not again
  socket().send({ type: "fill", position: 21, fill: { id: 5 } }); // never arrived: applied now
  socket().send({ type: "order", position: 22, order: {} });
  socket().send({ type: "fill", position: 22, fill: {} });
  frame();
  assert.equal(feed.state, "behind"); // replaying
  socket().send({ type: "caught_up", position: 30 });
  frame();
  assert.equal(feed.state, "live");
  assert.deepEqual(seen.batches, [["order@21"], ["fill@21", "order@22", "fill@22"]]);
  assert.equal(feed.stats.dropped, 1);
});

test("a heartbeat moves last, so the next reconnect does not re-read other accounts' events", () => {
  const { feed, frame, socket } = harness();
  feeds.push(feed);
  feed.start();
  socket().opened();
  socket().send({ type: "hello", position: 5, user: {} });
  socket().send({ type: "snapshot", position: 5, orders: [], fills: [], positions: [], kill_switches: [] });
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
  socket.send({ type: "snapshot", position: 1, orders: [], fills: [], positions: [], kill_switches: [] });
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

test("the sequencer applies each message of an event once, and nothing a snapshot or heartbeat covered", () => {
  const s = new Sequencer();
  const order = (position, id = 1) => ({ type: "order", position, order: { id } });
  const fill = (position, id) => ({ type: "fill", position, fill: { id } });
  s.snapshot(100);
  assert.equal(s.admit(order(100)), false); // in the snapshot
  assert.equal(s.resumeAfter, 100);
  assert.equal(s.admit(order(101)), true);
  assert.equal(s.admit(fill(101, 7)), true); // its sibling
  assert.equal(s.admit(order(101)), false); // again (a replay): no
  assert.equal(s.resumeAfter, 100); // a drop now may have cut event 101 short
  s.heartbeat(101);
  assert.equal(s.resumeAfter, 101);
  assert.equal(s.admit(fill(101, 8)), false); // the heartbeat said 101 was all sent
  assert.equal(s.admit(order(102, 2)), true);
  assert.equal(s.admit(order(99, 3)), false);
});

test("back-off doubles up to ten seconds, with jitter", () => {
  assert.equal(backoffMs(0, () => 0.5), 500);
  assert.equal(backoffMs(3, () => 0.5), 4000);
  assert.equal(backoffMs(10, () => 0.5), 10000);
  assert.equal(backoffMs(10, () => 0), 7500);
});
