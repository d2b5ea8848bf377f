/**
 * Top clients in bounded memory: the Space-Saving sketch and its error
 * bound on seeded streams, merging, the last-minute window on a manual
 * clock, and the feed from `Sessions`.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Sessions } from "../src/proxy/sessions.ts";
import { clientKey, ClientTop, TOP_BUCKET_MS, TOP_CAPACITY, topView } from "../src/stats/client-top.ts";
import { Collector } from "../src/stats/collector.ts";
import { mergeSketches, type SketchSnapshot, SpaceSaving } from "../src/stats/topk.ts";
import { INFO } from "./helpers/core.ts";
import { ManualClock, seededRandom } from "./helpers/fakes.ts";

/**
 * A skewed stream: `heavy` keys take `share` of the updates, the rest spread
 * over `light` keys; weights 1 or (with `bytes`) 1-1500.
 */
function stream(
  seed: number,
  updates: number,
  options: { heavy: number; light: number; share: number; bytes?: boolean },
) {
  const random = seededRandom(seed);
  const truth = new Map<string, number>();
  const items: [string, number][] = [];
  for (let i = 0; i < updates; i++) {
    const light = Math.floor(random() * options.light);
    const key = random() < options.share
      ? `10.0.0.${Math.floor(random() * options.heavy)}`
      : `192.0.${light >> 8}.${light & 255}`;
    const weight = options.bytes ? 1 + Math.floor(random() * 1500) : 1;
    items.push([key, weight]);
    truth.set(key, (truth.get(key) ?? 0) + weight);
  }
  return { items, truth, total: items.reduce((sum, [, w]) => sum + w, 0) };
}

/** Checks the documented guarantee of a sketch against the true counts. */
function assertBounds(sketch: SketchSnapshot, truth: Map<string, number>, errorMax: number, floorMax: number) {
  assert.ok(sketch.floor <= floorMax, `floor ${sketch.floor} > ${floorMax}`);
  const listed = new Set<string>();
  for (const { key, count, error } of sketch.entries) {
    listed.add(key);
    const real = truth.get(key) ?? 0;
    assert.ok(count - error <= real && real <= count, `${key}: true ${real} outside [${count - error}, ${count}]`);
    assert.ok(error <= errorMax, `${key}: error ${error} > ${errorMax}`);
  }
  for (const [key, real] of truth) {
    if (!listed.has(key)) assert.ok(real <= sketch.floor, `${key} (${real}) missing though above the floor`);
  }
}

describe("SpaceSaving", () => {
  test("counts are exact while the distinct keys fit", () => {
    const sketch = new SpaceSaving(8);
    for (let i = 0; i < 8; i++) for (let j = 0; j <= i; j++) sketch.add(`k${i}`, 10);
    const { entries, floor, total } = sketch.snapshot();
    assert.equal(floor, 0);
    assert.equal(total, 360);
    assert.deepEqual(
      entries.map((e) => [e.key, e.count, e.error]),
      [7, 6, 5, 4, 3, 2, 1, 0].map((i) => [`k${i}`, 10 * (i + 1), 0]),
    );
  });

  test("finds the heavy hitters among many light keys; true counts stay within [count - error, count]", () => {
    for (const bytes of [false, true]) {
      const k = 50;
      const { items, truth, total } = stream(7, 20_000, { heavy: 5, light: 4000, share: 0.4, bytes });
      const sketch = new SpaceSaving(k);
      for (const [key, weight] of items) sketch.add(key, weight);
      const snapshot = sketch.snapshot();
      assert.equal(snapshot.total, total);
      assertBounds(snapshot, truth, total / k, total / k);
      const heavy = [...truth].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([key]) => key).sort();
      assert.deepEqual(snapshot.entries.slice(0, 5).map((e) => e.key).sort(), heavy);
    }
  });

  test("memory is bounded: never more than k keys however many distinct ones arrive", () => {
    const sketch = new SpaceSaving(16);
    for (let i = 0; i < 10_000; i++) {
      sketch.add(`198.51.${i >> 8}.${i & 255}`, 1 + (i % 7));
      assert.ok(sketch.size <= 16);
    }
    assert.equal(sketch.size, 16);
    sketch.clear();
    assert.equal(sketch.size, 0);
    assert.equal(sketch.total, 0);
  });

  test("ignores weights that are not positive", () => {
    const sketch = new SpaceSaving(2);
    sketch.add("a", 0);
    sketch.add("a", -5);
    sketch.add("a", NaN);
    assert.equal(sketch.size, 0);
  });
});

describe("mergeSketches", () => {
  test("sums counts per key, charging an absent key the part's floor", () => {
    const a = new SpaceSaving(2);
    const b = new SpaceSaving(2);
    a.add("x", 5);
    a.add("y", 3);
    a.add("z", 1); // evicts y: z = 3 + 1, error 3; a's floor is now 4
    b.add("x", 2);
    const merged = mergeSketches([a.snapshot(), b.snapshot()], 2);
    assert.deepEqual(merged.entries, [{ key: "x", count: 7, error: 0 }, { key: "z", count: 4, error: 3 }]);
    assert.equal(merged.total, 11);
    assert.equal(merged.floor, 4);
  });

  test("the merged bounds hold on seeded streams (error <= N/k, floor <= 2N/k)", () => {
    const k = 40;
    const parts = [11, 12, 13].map((seed) => stream(seed, 8000, { heavy: 6, light: 3000, share: 0.3, bytes: true }));
    const truth = new Map<string, number>();
    for (const part of parts) for (const [key, n] of part.truth) truth.set(key, (truth.get(key) ?? 0) + n);
    const total = parts.reduce((sum, p) => sum + p.total, 0);
    const merged = mergeSketches(
      parts.map(({ items }) => {
        const sketch = new SpaceSaving(k);
        for (const [key, weight] of items) sketch.add(key, weight);
        return sketch.snapshot();
      }),
      k,
    );
    assert.equal(merged.total, total);
    assert.ok(merged.entries.length <= k);
    assertBounds(merged, truth, total / k, (2 * total) / k);
  });
});

describe("ClientTop", () => {
  test("the last minute is the current 10 s bucket and the six before it; since start keeps everything", () => {
    const top = new ClientTop();
    top.connection("192.0.2.1", 0);
    top.bytes("192.0.2.1", 1000, 5_000);
    top.connection("192.0.2.2", 30_000);
    const at = (now: number) => topView([top], "connections", now).last_minute.clients.map((c) => c.client);
    assert.deepEqual(at(69_999), ["192.0.2.1", "192.0.2.2"]);
    assert.deepEqual(at(7 * TOP_BUCKET_MS), ["192.0.2.2"]);
    assert.deepEqual(at(100_000), []);
    assert.equal(topView([top], "bytes", 69_999).last_minute.total, 1000);
    assert.equal(topView([top], "bytes", 70_000).last_minute.total, 0);
    const since = topView([top], "connections", 1e9).since_start;
    assert.equal(since.total, 2);
    assert.deepEqual(since.clients.map((c) => c.count), [1, 1]);
  });

  test("an old bucket's slot is cleared when reused, even after a long quiet spell", () => {
    const top = new ClientTop();
    for (let t = 0; t < 70_000; t += 1000) top.connection("192.0.2.1", t);
    top.connection("192.0.2.9", 500_000);
    const view = topView([top], "connections", 500_000);
    assert.deepEqual(view.last_minute.clients, [{ client: "192.0.2.9", count: 1, error: 0 }]);
    assert.equal(view.since_start.total, 71);
  });

  test("memory stays bounded with a flood of distinct clients over time", () => {
    const top = new ClientTop();
    for (let i = 0; i < 50_000; i++) {
      const host = `203.0.${(i >> 8) & 255}.${i & 255}`;
      top.connection(host, i * 10);
      top.bytes(host, 100, i * 10);
    }
    assert.ok(top.entries <= 16 * TOP_CAPACITY, `${top.entries} entries`);
  });

  test("topView merges this thread's sketches with workers' structured-cloned snapshots", () => {
    const main = new ClientTop();
    const worker = new ClientTop();
    main.bytes("10.0.0.1", 500, 1000);
    worker.bytes("10.0.0.1", 700, 1_000_000); // the worker's clock has its own origin
    worker.bytes("10.0.0.2", 100, 1_000_000);
    const posted = structuredClone(worker.snapshot(1_000_500));
    const view = topView([main, posted], "bytes", 2000, 1);
    assert.deepEqual(view.last_minute, {
      total: 1300,
      bound: 0,
      clients: [{ client: "10.0.0.1", count: 1200, error: 0 }],
    });
    assert.equal(view.since_start.total, 1300);
    assert.equal(topView([main, posted], "bytes", 2000, 1000).since_start.clients.length, 2);
  });

  test("client keys: IPv4-mapped IPv6 is IPv4; brackets go; plain hosts stay", () => {
    assert.equal(clientKey("::ffff:192.0.2.5"), "192.0.2.5");
    assert.equal(clientKey("[2001:db8::1]"), "2001:db8::1");
    assert.equal(clientKey("2001:db8::1"), "2001:db8::1");
    assert.equal(clientKey("192.0.2.5"), "192.0.2.5");
  });
});

describe("Sessions feed the top clients", () => {
  test("a session counts at open; its bytes count when folded (live) and at close", () => {
    const clock = new ManualClock();
    const collector = new Collector(INFO, clock);
    const listener = collector.listener("tcp/127.0.0.1:0", "l");
    const sessions = new Sessions(collector.total, collector.recent);
    collector.addSource(() => sessions.foldAll());
    const timeouts = { idleTimeoutMs: 0, halfCloseTimeoutMs: 0 };
    const open = (host: string, port: number) =>
      sessions.open(listener, { host, port }, timeouts, clock.now(), clock.wallNow());
    const a = open("192.0.2.1", 1000);
    const b = open("::ffff:192.0.2.1", 1001);
    const c = open("2001:db8::7", 1002);
    a.toUpstream += 100;
    a.toClient += 900;
    collector.gather();
    clock.advance(2000);
    sessions.sweepIdle(clock.now());
    b.toClient += 50;
    c.toUpstream += 10;
    sessions.close(b, "client_closed", undefined, clock.now());
    sessions.close(c, "client_closed", undefined, clock.now());
    a.toClient += 1000;
    sessions.close(a, "client_closed", undefined, clock.now());

    const connections = topView([sessions.top], "connections", clock.now());
    assert.deepEqual(connections.last_minute.clients, [
      { client: "192.0.2.1", count: 2, error: 0 },
      { client: "2001:db8::7", count: 1, error: 0 },
    ]);
    const bytes = topView([sessions.top], "bytes", clock.now());
    assert.deepEqual(bytes.since_start.clients, [
      { client: "192.0.2.1", count: 2050, error: 0 },
      { client: "2001:db8::7", count: 10, error: 0 },
    ]);
    assert.equal(bytes.since_start.total, collector.total.toUpstream + collector.total.toClient);
    clock.advance(70_000);
    assert.equal(topView([sessions.top], "bytes", clock.now()).last_minute.total, 0);
  });

  test("a ClientTop can be passed in", () => {
    const collector = new Collector(INFO, new ManualClock());
    const top = new ClientTop();
    assert.equal(new Sessions(collector.total, collector.recent, undefined, { top }).top, top);
  });
});
