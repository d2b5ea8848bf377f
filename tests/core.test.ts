/**
 * Core logic on in-memory fakes with a manual clock: breaker, pool, the data
 * path's dial/retry/abort rules, the connection table, stats history, logging.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { loadObject } from "../src/config/load.ts";
import type { Config, ListenerConfig } from "../src/config/schema.ts";
import { Logger } from "../src/log.ts";
import { Supervisor } from "../src/proxy/supervisor.ts";
import { TcpProxy } from "../src/proxy/tcp.ts";
import type { Runtime } from "../src/runtime/types.ts";
import { Collector } from "../src/stats/collector.ts";
import { Ring } from "../src/stats/ring.ts";
import { Series } from "../src/stats/series.ts";
import { Breaker } from "../src/upstream/breaker.ts";
import { Pool } from "../src/upstream/pool.ts";
import { fakeNetwork, ManualClock, memoryLogger, settle } from "./helpers/fakes.ts";

const INFO = { version: "test", runtime: "fake", runtimeVersion: "0" };

/** A validated config with one listener in front of backends on the given ports. */
function configFor(ports: number[], listener: Record<string, unknown> = {}): Config {
  const loaded = loadObject({
    admin: { enabled: false },
    listeners: [{ name: "l", listen: "127.0.0.1:0", backends: ports.map((p) => ({ address: `127.0.0.1:${p}` })), ...listener }],
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  return loaded.config;
}

/** One TcpProxy on the fake network. */
async function fakeProxy(ports: number[], listener: Record<string, unknown> = {}) {
  const clock = new ManualClock();
  const net = fakeNetwork(clock);
  const collector = new Collector(INFO, clock);
  const config: ListenerConfig = configFor(ports, listener).listeners[0];
  const { log, events } = memoryLogger(clock);
  const pool = new Pool(config, (b) => collector.backend("l", b), { random: () => 0.5 });
  const proxy = new TcpProxy(config, { runtime: net.runtime, log, table: collector.table, stats: collector.listener("l"), pool });
  await proxy.start();
  return { clock, net, collector, pool, proxy, events };
}

describe("Breaker", () => {
  test("trips after max_fails failures within fail_timeout and reopens after it", () => {
    const b = new Breaker(3, 10_000);
    assert.equal(b.recordFailure(0), false);
    assert.equal(b.recordFailure(1000), false);
    assert.equal(b.recordFailure(2000), true);
    assert.equal(b.isOpen(11_999), true);
    assert.equal(b.isOpen(12_000), false);
  });

  test("failures further apart than fail_timeout never add up", () => {
    const b = new Breaker(2, 1000);
    for (let t = 0; t < 10_000; t += 1500) assert.equal(b.recordFailure(t), false);
  });

  test("a success forgets failures and ends an open period", () => {
    const b = new Breaker(2, 1000);
    b.recordFailure(0);
    b.recordSuccess();
    assert.equal(b.recordFailure(10), false);
    assert.equal(b.recordFailure(20), true);
    b.recordSuccess();
    assert.equal(b.isOpen(30), false);
  });

  test("max_fails = 0 turns it off", () => {
    const b = new Breaker(0, 1000);
    for (let i = 0; i < 100; i++) assert.equal(b.recordFailure(i), false);
  });
});

describe("Pool", () => {
  const build = (maxFails = 1) => {
    const collector = new Collector(INFO, new ManualClock());
    const listener = configFor([1, 2], { max_fails: maxFails, fail_timeout: "10s", balance: "round-robin" }).listeners[0];
    return new Pool(listener, (b) => collector.backend("l", b), { random: () => 0.5 });
  };

  test("pick() skips an ejected backend until its fail_timeout has passed", () => {
    const pool = build();
    const [a, b] = pool.backends;
    assert.equal(pool.reportFailure(a, 0), true);
    assert.equal(a.stats.state, "ejected");
    for (let i = 0; i < 5; i++) assert.equal(pool.pick(0, undefined, 5000), b);
    assert.equal(a.stats.state, "ejected");
    pool.refresh(10_000);
    assert.equal(a.stats.state, "up");
    assert.deepEqual([pool.pick(0, undefined, 10_000), pool.pick(0, undefined, 10_000)].map((m) => m?.name).sort(), ["127.0.0.1:1", "127.0.0.1:2"]);
  });

  test("pick() falls back to ejected backends when nothing else is left (panic mode)", () => {
    const pool = build();
    const [a, b] = pool.backends;
    pool.reportFailure(a, 0);
    pool.reportFailure(b, 0);
    const picked = pool.pick(0, undefined, 1);
    assert.ok(picked === a || picked === b);
    assert.equal(pool.pick(0, [a, b], 1), undefined);
  });

  test("a successful connect to an ejected backend brings it back at once", () => {
    const pool = build();
    const [a] = pool.backends;
    pool.reportFailure(a, 0);
    pool.reportSuccess(a);
    assert.equal(a.stats.state, "up");
    assert.equal(a.stats.ejections, 1);
  });
});

describe("TcpProxy on a fake network", () => {
  test("dial tries at most 1 + retries backends, each once, then rejects the client", async () => {
    const { net, collector, events } = await fakeProxy([1, 2, 3, 4, 5], { retries: 2 });
    for (const port of [1, 2, 3, 4, 5]) net.failures.set(port, "refused");
    const client = net.accept();
    await settle();
    assert.equal(net.dials.length, 3);
    assert.equal(new Set(net.dials.map((d) => d.port)).size, 3);
    assert.equal(client.aborted, true);
    assert.equal(collector.listener("l").rejected.no_backend, 1);
    assert.equal(collector.total.active, 0);
    assert.equal(collector.backends().reduce((n, b) => n + b.active, 0), 0, "no backend keeps a phantom active count");
    assert.equal(events().filter((e) => e.event === "upstream.connect_failed").length, 3);
  });

  test("a timed-out connect is counted as timeout, and the next backend gets the client", async () => {
    const { net, collector } = await fakeProxy([1, 2], { balance: "round-robin", connect_timeout: "250ms" });
    net.failures.set(1, "timeout");
    net.accept();
    await settle();
    assert.deepEqual(net.dials.map((d) => [d.port, d.timeoutMs]), [[1, 250], [2, 250]]);
    assert.equal(collector.backend("l", "127.0.0.1:1").connectErrors.timeout, 1);
    assert.equal(collector.backend("l", "127.0.0.1:2").active, 1);
    assert.equal(net.relays.length, 1);
  });

  test("bytes counted by the relay reach listener, backend and totals, and the close is accounted", async () => {
    const { net, collector, events } = await fakeProxy([1]);
    net.accept({ host: "198.51.100.7", port: 5555 });
    await settle();
    const relay = net.relays[0];
    relay.tally.up += 100;
    relay.tally.down += 2500;
    collector.tick();
    assert.equal(collector.listener("l").bytesIn, 100);
    assert.equal(collector.listener("l").history.bytesOut.seconds.last(), 2500);
    relay.tally.up += 1;
    relay.finish({ outcome: "upstream_closed" });
    await settle();
    const backend = collector.backend("l", "127.0.0.1:1");
    assert.deepEqual([backend.bytesIn, backend.bytesOut, backend.active, collector.total.bytesIn], [101, 2500, 0, 101]);
    const close = events().find((e) => e.event === "conn.close")!;
    assert.deepEqual([close.client, close.reason, close.bytes_in, close.bytes_out], ["198.51.100.7:5555", "upstream_closed", 101, 2500]);
  });

  test("hash balancing sends the same client address to the same backend", async () => {
    const { net } = await fakeProxy([1, 2, 3, 4], { balance: "hash" });
    for (let i = 0; i < 6; i++) net.accept({ host: i % 2 ? "203.0.113.9" : "203.0.113.200", port: 1000 + i });
    await settle();
    const ports = net.dials.map((d) => d.port);
    assert.deepEqual(ports.filter((_, i) => i % 2 === 1), Array(3).fill(ports[1]));
    assert.deepEqual(ports.filter((_, i) => i % 2 === 0), Array(3).fill(ports[0]));
  });
});

describe("ConnectionTable", () => {
  test("sweepIdle() aborts a relaying connection only after idle_timeout without bytes", async () => {
    const { net, collector, clock } = await fakeProxy([1], { idle_timeout: "1s" });
    net.accept();
    await settle();
    const relay = net.relays[0];
    clock.advance(600);
    collector.table.sweepIdle(clock.now());
    relay.tally.up += 1; // activity at 600 ms
    clock.advance(300);
    collector.table.sweepIdle(clock.now());
    clock.advance(900); // 900 ms since the activity was seen
    collector.table.sweepIdle(clock.now());
    assert.equal(relay.client.aborted, false);
    clock.advance(200);
    collector.table.sweepIdle(clock.now());
    assert.equal(relay.client.aborted, true);
    await settle();
    assert.equal(collector.table.recentlyClosed()[0].closeReason, "idle_timeout");
  });

  test("the recent ring keeps only the newest closed connections", () => {
    const clock = new ManualClock();
    const collector = new Collector(INFO, clock);
    const table = collector.table;
    const stats = collector.listener("l");
    for (let i = 0; i < table.recentCapacity + 10; i++) {
      const conn = table.open(stats, { host: "192.0.2.1", port: i }, 0, clock.now(), clock.wallNow());
      table.close(conn, "client_closed", undefined, clock.now());
    }
    const recent = table.recentlyClosed();
    assert.equal(recent.length, table.recentCapacity);
    assert.equal(recent[0].client.port, table.recentCapacity + 9);
    assert.equal(table.size, 0);
    assert.equal(stats.active, 0);
  });
});

describe("Supervisor", () => {
  test("shutdown() aborts what is still live when the drain timeout ends", async () => {
    const clock = new ManualClock();
    const net = fakeNetwork(clock);
    const collector = new Collector(INFO, clock);
    const { log } = memoryLogger(clock);
    const supervisor = new Supervisor({ runtime: net.runtime as Runtime, log, collector });
    await supervisor.start(configFor([1]));
    net.accept();
    await settle();
    const stopping = supervisor.shutdown(5000);
    await settle();
    clock.advance(4999);
    await settle();
    assert.equal(net.relays[0].client.aborted, false);
    clock.advance(1);
    await settle();
    assert.deepEqual(await stopping, { drained: 0, aborted: 1 });
    log.flush();
    assert.equal(clock.pending, 0, "the sweep and drain timers are left behind");
  });
});

describe("stats history", () => {
  test("Ring keeps the newest values in order once full", () => {
    const r = new Ring(3);
    assert.deepEqual(r.toArray(), []);
    for (let i = 1; i <= 5; i++) r.push(i);
    assert.deepEqual(r.toArray(), [3, 4, 5]);
    assert.equal(r.last(), 5);
  });

  test("Series sums rates and averages gauges into minutes", () => {
    const rate = new Series("rate");
    const gauge = new Series("gauge");
    for (let i = 0; i < 120; i++) {
      rate.add(2);
      gauge.add(i < 60 ? 10 : 20);
    }
    assert.deepEqual(rate.minutes.toArray(), [120, 120]);
    assert.deepEqual(gauge.minutes.toArray(), [10, 20]);
    assert.equal(rate.seconds.length, 120);
  });
});

describe("Logger", () => {
  const capture = (format: "text" | "json", level: "info" | "warn" = "info") => {
    const clock = new ManualClock();
    const writes: string[] = [];
    const log = new Logger({ level, format }, {
      write: (t) => writes.push(t),
      wallNow: () => Date.UTC(2026, 10, 22, 3, 4, 5, 6),
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      clearTimeout: (h) => clock.clearTimeout(h),
    });
    return { log, writes, clock };
  };

  test("text lines are `time level event key=value`, quoting values that need it", () => {
    const { log, writes } = capture("text");
    log.info("conn.close", { client: "192.0.2.1:5", error: "connection reset by peer", skipped: undefined, n: 3 });
    log.flush();
    assert.equal(writes.join(""), `2026-11-22T03:04:05.006Z info  conn.close client=192.0.2.1:5 error="connection reset by peer" n=3\n`);
  });

  test("json lines parse and carry level and event", () => {
    const { log, writes } = capture("json");
    log.warn("x", { a: 1 });
    log.flush();
    assert.deepEqual(JSON.parse(writes[0]), { time: "2026-11-22T03:04:05.006Z", level: "warn", event: "x", a: 1 });
  });

  test("lines below the level are dropped; a burst is written once", () => {
    const { log, writes, clock } = capture("text", "warn");
    log.info("dropped");
    for (let i = 0; i < 50; i++) log.warn("kept", { i });
    assert.equal(writes.length, 0);
    clock.advance(50);
    assert.equal(writes.length, 1);
    assert.equal(writes[0].split("\n").length - 1, 50);
  });

  test("errors are written at once", () => {
    const { log, writes } = capture("text");
    log.error("boom");
    assert.equal(writes.length, 1);
  });
});
