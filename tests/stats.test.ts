/**
 * Stats on fakes: history rings and their memory budget, and the worker
 * counter layout (derived from one declaration, versioned).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { renderMetrics } from "../src/admin/metrics.ts";
import { Collector } from "../src/stats/collector.ts";
import { restoreSnapshot, takeSnapshot } from "../src/stats/snapshot.ts";
import { DAY_FINE, Ring, Series } from "../src/stats/history.ts";
import { StateBook } from "../src/upstream/state.ts";
import { layoutOf, regionMerger, regionWriter } from "../src/workers/layout.ts";
import { config, INFO } from "./helpers/core.ts";
import { ManualClock } from "./helpers/fakes.ts";

describe("history", () => {
  test("Ring keeps the newest values in order once full", () => {
    const r = new Ring(3);
    assert.deepEqual(r.toArray(), []);
    for (let i = 1; i <= 5; i++) r.push(i);
    assert.deepEqual(r.toArray(), [3, 4, 5]);
    assert.equal(r.last(), 5);
  });

  test("a Series' coarse points are per-second means of their bucket", () => {
    const s = new Series(DAY_FINE);
    for (let i = 0; i < 120; i++) s.add(i < 60 ? 10 : 20);
    assert.deepEqual(s.day.toArray(), [10, 20]);
    assert.equal(s.seconds.length, 120);
  });

  test("1,000 backends' history (six series, 5 min of seconds, a day of 5-minute points) stays under 16 MiB", () => {
    const collector = new Collector(INFO, new ManualClock());
    const listener = collector.listener("tcp/0.0.0.0:80", "web");
    let bytes = 0;
    for (let i = 0; i < 1000; i++) {
      bytes += collector.historyOf(collector.backend(listener, `10.0.${i >> 8}.${i & 255}:80`, "b"))!.bytes;
    }
    assert.ok(bytes < 16 * 1024 * 1024, `${(bytes / 1024 / 1024).toFixed(1)} MiB`);
    assert.equal(collector.historyOf(listener)!.series.active.day.capacity, 1440, "listeners keep minute points");
  });

  test("worker threads keep no history", () => {
    const collector = new Collector(INFO, new ManualClock(), { history: false });
    assert.equal(collector.historyOf(collector.listener("k", "n")), undefined);
  });

  test("tick() samples counters into history, and connect time into a mean per successful connect", () => {
    const collector = new Collector(INFO, new ManualClock());
    const l = collector.listener("k", "n");
    l.connections += 5; // one of them found no backend
    l.connected += 4;
    l.connectMs += 10;
    l.toClient += 300;
    collector.tick();
    const h = collector.historyOf(l)!.series;
    assert.deepEqual([h.connections.seconds.last(), h.connectMs.seconds.last(), h.toClient.seconds.last()], [
      5,
      2.5,
      300,
    ]);
    collector.tick();
    assert.deepEqual([h.connections.seconds.last(), h.connectMs.seconds.last()], [0, 0]);
  });
});

describe("metrics", () => {
  test("a retired entity that shares its labels with its replacement is not exposed twice", () => {
    const collector = new Collector(INFO, new ManualClock());
    const old = collector.listener("tcp/0.0.0.0:80", "web");
    collector.retire(old);
    old.active = 1; // still draining
    collector.listener("tcp/127.0.0.1:80", "web");
    const text = renderMetrics(collector, new StateBook(), 0);
    assert.equal(text.match(/^sluice_listener_active_connections\{listener="web"\}/gm)?.length, 1);
  });
});

describe("worker layout", () => {
  const cfg = config({
    listeners: [
      { listen: "127.0.0.1:0", backends: [{ address: "127.0.0.1:1" }, { address: "127.0.0.1:2" }] },
      { listen: "127.0.0.1:0", backends: [{ address: "127.0.0.1:3" }] },
    ],
  });

  /** A worker thread's numbers, as its listeners would leave them. */
  const worker = (connections: number, ejected: boolean) => {
    const collector = new Collector(INFO, new ManualClock(), { history: false });
    const states = new StateBook();
    const l = collector.listener(cfg.listeners[1].key, "x");
    const b = collector.backend(l, "127.0.0.1:3", "x");
    b.connections = connections;
    b.connectErrors.refused = 1;
    states.get(l.key, b.key, cfg.listeners[1]).ejected = ejected;
    return { collector, states };
  };

  test("regions are summed into the main thread's counters, and any thread's ejection shows", () => {
    const layout = layoutOf(cfg, 1);
    const regions = [new Float64Array(layout.length), new Float64Array(layout.length)];
    [worker(3, false), worker(4, true)].forEach((w, i) => regionWriter(layout, w.collector, w.states, regions[i])());
    const main = new Collector(INFO, new ManualClock());
    const states = new StateBook();
    regionMerger(layout, main, states, regions)();
    const b = main.backends(cfg.listeners[1].key)[0];
    assert.deepEqual([b.connections, b.connectErrors.refused], [7, 2]);
    assert.equal(states.find(cfg.listeners[1].key, "127.0.0.1:3")!.shown(0, 0), "ejected");
  });

  test("a region written in another layout version is skipped", () => {
    const v1 = layoutOf(cfg, 1);
    const v2 = layoutOf(cfg, 2);
    const regions = [new Float64Array(v1.length), new Float64Array(v1.length)];
    regionWriter(v1, worker(3, false).collector, new StateBook(), regions[0])();
    regionWriter(v2, worker(4, false).collector, new StateBook(), regions[1])();
    const main = new Collector(INFO, new ManualClock());
    regionMerger(v2, main, new StateBook(), regions)();
    assert.equal(main.backends(cfg.listeners[1].key)[0].connections, 4);
  });

  test("the layout's length follows from the declared fields, whatever the configuration", () => {
    const one = layoutOf(config({ listeners: [{ listen: "127.0.0.1:0", backends: [{ address: "127.0.0.1:1" }] }] }), 1);
    const perBackend = layoutOf(cfg, 1).length - one.length;
    assert.ok(perBackend > 0);
    // The writer checks its slot count against the length; a mismatch would throw here.
    regionWriter(one, new Collector(INFO, new ManualClock()), new StateBook(), new Float64Array(one.length))();
  });
});

describe("history snapshot", () => {
  const filled = () => {
    const clock = new ManualClock();
    const collector = new Collector(INFO, clock);
    const l = collector.listener("tcp/0.0.0.0:80", "web");
    for (let i = 0; i < 120; i++) {
      l.connections += 2;
      collector.tick();
    }
    return { collector, l };
  };

  test("the day rings survive a round trip through JSON, with zero points for the time in between", () => {
    const { collector } = filled();
    const saved = JSON.parse(JSON.stringify(takeSnapshot(collector, 1_000_000)));
    const fresh = new Collector(INFO, new ManualClock());
    const l = fresh.listener("tcp/0.0.0.0:80", "web");
    fresh.listener("tcp/0.0.0.0:81", "other"); // not in the file: left alone
    assert.deepEqual(restoreSnapshot(fresh, saved, 1_000_000 + 3 * 60_000), { restored: 2 });
    assert.deepEqual(fresh.historyOf(l)!.series.connections.day.toArray(), [2, 2, 0, 0, 0]);
  });

  test("a file of another version or shape is reported, not used", () => {
    const { collector } = filled();
    const snapshot = takeSnapshot(collector, 0);
    const fresh = new Collector(INFO, new ManualClock());
    fresh.listener("tcp/0.0.0.0:80", "web");
    assert.match((restoreSnapshot(fresh, { ...snapshot, version: 99 }, 0) as { error: string }).error, /version 99/);
    assert.match((restoreSnapshot(fresh, { hello: 1 }, 0) as { error: string }).error, /not a Sluice history/);
    assert.match((restoreSnapshot(fresh, null, 0) as { error: string }).error, /not a Sluice history/);
  });
});
