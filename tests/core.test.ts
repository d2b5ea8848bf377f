/**
 * Core logic on in-memory fakes with a manual clock: the data path's stages
 * and dial/retry/abort rules, live sessions, shutdown, and logging.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { admission } from "../src/admit/admit.ts";
import { maskFormatted, maskHost } from "../src/net/anonymize.ts";
import { cidrContains, parseCidr } from "../src/net/cidr.ts";
import { tableJson } from "../src/stats/table-view.ts";
import { Logger } from "../src/log.ts";
import { configFor, fakeSluice } from "./helpers/core.ts";
import { ManualClock, settle } from "./helpers/fakes.ts";

const NO_TIMEOUTS = { idleTimeoutMs: 0, halfCloseTimeoutMs: 0 };

describe("TcpProxy on a fake network", () => {
  test("dial tries at most 1 + retries backends, each once, then rejects the client", async () => {
    const { network, collector, listener, events } = await fakeSluice(configFor([1, 2, 3, 4, 5], { retries: 2 }));
    for (const port of [1, 2, 3, 4, 5]) network.failures.set(port, "refused");
    const client = network.accept();
    await settle();
    assert.equal(network.dials.length, 3);
    assert.equal(new Set(network.dials.map((d) => d.port)).size, 3);
    assert.equal(client.aborted, true);
    assert.equal(listener().rejected.no_backend, 1);
    assert.equal(collector.total.active, 0);
    assert.equal(collector.backends().reduce((n, b) => n + b.active, 0), 0, "no backend keeps a phantom active count");
    assert.equal(events().filter((e) => e.event === "upstream.connect_failed").length, 3);
  });

  test("a timed-out connect is counted as timeout, and the next backend gets the client", async () => {
    const { network, backend } = await fakeSluice(
      configFor([1, 2], { balance: "round-robin", connect_timeout: "250ms" }),
    );
    network.failures.set(1, "timeout");
    network.accept();
    await settle();
    assert.deepEqual(network.dials.map((d) => [d.port, d.timeoutMs]), [[1, 250], [2, 250]]);
    assert.equal(backend(1).connectErrors.timeout, 1);
    assert.equal(backend(2).active, 1);
    assert.equal(network.relays.length, 1);
  });

  test("bytes counted by the relay reach listener, backend and totals, and the close is accounted", async () => {
    const { network, collector, listener, backend, events } = await fakeSluice(configFor([1]));
    network.accept({ host: "198.51.100.7", port: 5555 });
    await settle();
    const relay = network.relays[0];
    relay.tally.toUpstream += 100;
    relay.tally.toClient += 2500;
    collector.tick();
    assert.equal(listener().toUpstream, 100);
    assert.equal(collector.historyOf(listener())!.series.toClient.seconds.last(), 2500);
    relay.tally.toUpstream += 1;
    relay.finish({ outcome: "upstream_closed" });
    await settle();
    const b = backend(1);
    assert.deepEqual([b.toUpstream, b.toClient, b.active, collector.total.toUpstream], [101, 2500, 0, 101]);
    const close = events().find((e) => e.event === "conn.close")!;
    assert.deepEqual([close.client, close.reason, close.bytes_in, close.bytes_out], [
      "198.51.100.7:5555",
      "upstream_closed",
      101,
      2500,
    ]);
  });

  test("hash balancing sends the same client address to the same backend", async () => {
    const { network } = await fakeSluice(configFor([1, 2, 3, 4], { balance: "hash" }));
    for (let i = 0; i < 6; i++) network.accept({ host: i % 2 ? "203.0.113.9" : "203.0.113.200", port: 1000 + i });
    await settle();
    const ports = network.dials.map((d) => d.port);
    assert.deepEqual(ports.filter((_, i) => i % 2 === 1), Array(3).fill(ports[1]));
    assert.deepEqual(ports.filter((_, i) => i % 2 === 0), Array(3).fill(ports[0]));
  });

  test("stages run in order: admit, route, pick, dial, relay, account", async () => {
    const order: string[] = [];
    const s = await fakeSluice(configFor([1]), {
      admit: (client) => void order.push(`admit ${client.host}`),
      router: (pool) => () => (order.push("route"), pool),
    });
    const pool = s.listeners.pool(s.listeners.addresses()[0].key)!;
    const pick = pool.pick.bind(pool);
    pool.pick = (...args) => (order.push("pick"), pick(...args));
    const { connectTcp, relayTcp } = s.network.net;
    s.network.net.connectTcp = (options) => (order.push(`dial ${options.port}`), connectTcp(options));
    s.network.net.relayTcp = (c, u, t) => (order.push("relay"), relayTcp(c, u, t));
    s.network.accept({ host: "192.0.2.1", port: 1 });
    await settle();
    order.push(`active ${s.listener().active}`);
    s.network.relays[0].finish({ outcome: "client_closed" });
    await settle();
    order.push(`closed ${s.collector.recent.list()[0].closeReason}`);
    assert.deepEqual(order, [
      "admit 192.0.2.1",
      "route",
      "pick",
      "dial 1",
      "relay",
      "active 1",
      "closed client_closed",
    ]);
  });

  test("a client refused at admission is counted by reason, never accepted, and no backend is dialled", async () => {
    const s = await fakeSluice(configFor([1]), {
      admit: (client) => (client.host === "192.0.2.66" ? "no_backend" : undefined),
    });
    const refused = s.network.accept({ host: "192.0.2.66", port: 1 });
    s.network.accept({ host: "192.0.2.1", port: 2 });
    await settle();
    assert.equal(refused.aborted, true);
    assert.deepEqual(s.network.dials.map((d) => d.port), [1]);
    assert.equal(s.listener().connections, 1);
    assert.equal(s.listener().rejected.no_backend, 1);
    assert.equal(s.collector.total.refused, 1);
    assert.equal(s.events().filter((e) => e.event === "conn.rejected").length, 1);
  });

  test("only a strategy that needs the client's key gets one", async () => {
    for (const [balance, keyed] of [["hash", true], ["least-conn", false]] as const) {
      const s = await fakeSluice(configFor([1], { balance }));
      s.network.accept({ host: "192.0.2.1", port: 1 });
      await settle();
      const pool = s.listeners.pool(s.listeners.addresses()[0].key)!;
      assert.equal(pool.needsKey, keyed, balance);
    }
  });
});

describe("admission()", () => {
  test("no rules is no stage; with rules, the first refusal wins", () => {
    assert.equal(admission([]), undefined);
    const seen: string[] = [];
    const admit = admission([
      (client) => (seen.push("a"), client.port === 1 ? "no_backend" : undefined),
      () => (seen.push("b"), undefined),
    ])!;
    assert.equal(admit({ host: "192.0.2.1", port: 1 }, "k"), "no_backend");
    assert.equal(admit({ host: "192.0.2.1", port: 2 }, "k"), undefined);
    assert.deepEqual(seen, ["a", "a", "b"]);
  });
});

describe("Sessions", () => {
  test("the listeners' sweep ends a relaying session after idle_timeout without bytes, within a quarter of it", async () => {
    const { network, clock, collector } = await fakeSluice(configFor([1], { idle_timeout: "1s" }));
    network.accept();
    await settle();
    const relay = network.relays[0];
    clock.advance(600);
    relay.tally.toUpstream += 1; // activity at 600 ms, seen by the sweep at 750 ms
    clock.advance(1100);
    assert.equal(relay.client.aborted, false, "1.1 s after the activity, under a second after it was seen");
    clock.advance(300);
    assert.equal(relay.client.aborted, true);
    assert.equal(relay.endedBy, "close", "with FINs, not resets");
    await settle();
    assert.equal(collector.recent.list()[0].closeReason, "idle_timeout");
  });

  test("once either side sent its FIN, half_close_timeout replaces idle_timeout", async () => {
    const { network, clock, collector } = await fakeSluice(
      configFor([1], { idle_timeout: "10m", half_close_timeout: "1s" }),
    );
    network.accept();
    await settle();
    const relay = network.relays[0];
    clock.advance(5000);
    assert.equal(relay.client.aborted, false, "a quiet connection is fine under the idle timeout");
    relay.halfClosed = true;
    clock.advance(1300);
    assert.equal(relay.endedBy, "close");
    await settle();
    assert.equal(collector.recent.list()[0].closeReason, "half_close_timeout");
  });

  test("the recent ring keeps only the newest closed sessions", async () => {
    const { sessions, collector, clock, listener } = await fakeSluice(configFor([1]));
    const capacity = collector.recent.capacity;
    for (let i = 0; i < capacity + 10; i++) {
      const session = sessions.open(
        listener(),
        { host: "192.0.2.1", port: i },
        NO_TIMEOUTS,
        clock.now(),
        clock.wallNow(),
      );
      sessions.close(session, "client_closed", undefined, clock.now());
    }
    const recent = collector.recent.list();
    assert.equal(recent.length, capacity);
    assert.equal(recent[0].client.port, capacity + 9);
    assert.equal(sessions.size, 0);
    assert.equal(listener().active, 0);
  });
});

describe("Listeners", () => {
  test("the sweep ends an ejection whose time is over, with no traffic to trigger a pick", async () => {
    const s = await fakeSluice(configFor([1, 2], { fail_timeout: "2s" }));
    s.network.failures.set(1, "refused");
    s.network.failures.set(2, "refused");
    s.network.accept();
    await settle();
    const state = s.states.find(s.listeners.addresses()[0].key, "127.0.0.1:1")!;
    assert.equal(state.ejected, true);
    s.clock.advance(2000);
    assert.equal(state.ejected, false);
  });

  test("shutdown() aborts what is still live when the drain timeout ends", async () => {
    const { network, listeners, clock, log } = await fakeSluice(configFor([1]));
    network.accept();
    await settle();
    const stopping = listeners.shutdown(5000);
    await settle();
    clock.advance(4999);
    await settle();
    assert.equal(network.relays[0].client.aborted, false);
    clock.advance(1);
    await settle();
    assert.deepEqual(await stopping, { drained: 0, aborted: 1 });
    log.flush();
    assert.equal(clock.pending, 0, "the sweep and drain timers are left behind");
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
    assert.equal(
      writes.join(""),
      `2026-11-22T03:04:05.006Z info  conn.close client=192.0.2.1:5 error="connection reset by peer" n=3\n`,
    );
  });

  test("json lines parse and carry level and event", () => {
    const { log, writes } = capture("json");
    log.warn("x", { a: 1 });
    log.flush();
    assert.deepEqual(JSON.parse(writes[0]), { time: "2026-11-22T03:04:05.006Z", level: "warn", event: "x", a: 1 });
  });

  test("lines below the level are dropped; a burst is written once", () => {
    const { log, writes, clock } = capture("text", "info");
    log.debug("dropped");
    for (let i = 0; i < 50; i++) log.info("kept", { i });
    assert.equal(writes.length, 0);
    clock.advance(50);
    assert.equal(writes.length, 1);
    assert.equal(writes[0].split("\n").length - 1, 50);
  });

  test("warnings and errors are written at once, with the lines batched before them", () => {
    const { log, writes } = capture("text");
    log.info("before");
    log.warn("careful");
    assert.equal(writes.length, 1);
    assert.match(writes[0], /before\n.*careful\n$/);
    log.error("boom");
    assert.equal(writes.length, 2);
  });

  test("info lines are written within 20 ms of the first one", () => {
    const { log, writes, clock } = capture("text");
    log.info("a");
    clock.advance(19);
    log.info("b");
    assert.equal(writes.length, 0);
    clock.advance(1);
    assert.deepEqual(writes.length, 1);
    assert.equal(writes[0].split("\n").length - 1, 2);
  });
});

describe("connection table filters", () => {
  test("source (address or CIDR), listener, backend, state, protocol narrow the list; sort by bytes", async () => {
    const { network, sessions, collector, clock } = await fakeSluice(configFor([1, 2], { balance: "round-robin" }));
    network.accept({ host: "10.1.2.3", port: 1000 });
    network.accept({ host: "10.9.9.9", port: 1001 });
    network.accept({ host: "2001:db8::7", port: 1002 });
    await settle();
    network.relays[1].tally.toClient += 500;
    const table = (filter: Record<string, string>) =>
      tableJson(sessions.list(), collector.recent.list(clock.now()), 10, clock.now(), filter);
    assert.deepEqual(table({ source: "10.1.0.0/16" }).live.map((s) => s.client), ["10.1.2.3:1000"]);
    assert.deepEqual(table({ source: "2001:db8::/32" }).live.map((s) => s.client), ["[2001:db8::7]:1002"]);
    assert.equal(table({ source: "10.9.9.9" }).matched, 1);
    assert.equal(table({ backend: "127.0.0.1:2" }).matched, 1);
    assert.equal(table({ state: "relaying", protocol: "tcp" }).matched, 3);
    assert.equal(table({ protocol: "udp" }).matched, 0);
    assert.equal(table({ sort: "bytes" }).live[0].client, "10.9.9.9:1001");
    assert.equal(table({}).live_total, 3);
  });

  test("the recent list keeps at most 1,000 sessions, none closed more than 5 minutes ago", async () => {
    const { sessions, collector, clock, listener } = await fakeSluice(configFor([1]));
    for (let i = 0; i < 1200; i++) {
      const s = sessions.open(listener(), { host: "192.0.2.1", port: i }, NO_TIMEOUTS, clock.now(), clock.wallNow());
      sessions.close(s, "client_closed", undefined, clock.now());
    }
    assert.equal(collector.recent.list(clock.now()).length, 1000);
    clock.advance(5 * 60_000 + 1);
    assert.equal(collector.recent.list(clock.now()).length, 0);
  });
});

describe("anonymize_ips", () => {
  test("IPv4 shows its /24, IPv6 its /48, IPv4-mapped IPv6 as IPv4; ports stay", () => {
    assert.equal(maskHost("192.0.2.77"), "192.0.2.0");
    assert.equal(maskHost("2001:db8:1:2::9"), "2001:db8:1::");
    assert.equal(maskHost("::ffff:198.51.100.9"), "198.51.100.0");
    assert.equal(maskHost("backend.example"), "backend.example");
    assert.equal(maskFormatted("[2001:db8:aa:bb::1]:5353"), "[2001:db8:aa::]:5353");
    assert.equal(maskFormatted("203.0.113.200:40000"), "203.0.113.0:40000");
  });
});

describe("CIDR", () => {
  test("blocks match their addresses, IPv4-mapped IPv6 matches IPv4, bad text is refused with a reason", () => {
    const block = (text: string) => {
      const r = parseCidr(text);
      if (!r.ok) throw new Error(r.reason);
      return r.value;
    };
    assert.equal(cidrContains(block("192.0.2.0/25"), "192.0.2.127"), true);
    assert.equal(cidrContains(block("192.0.2.0/25"), "192.0.2.128"), false);
    assert.equal(cidrContains(block("192.0.2.0/24"), "::ffff:192.0.2.9"), true);
    assert.equal(cidrContains(block("2001:db8::/32"), "2001:db8:ffff::1"), true);
    assert.equal(cidrContains(block("2001:db8::/32"), "2001:db9::1"), false);
    assert.equal(cidrContains(block("0.0.0.0/0"), "203.0.113.1"), true);
    assert.equal(cidrContains(block("10.0.0.0/8"), "2001:db8::1"), false);
    for (const bad of ["10.0.0.0/33", "10.0.0/8", "nope", "::1/129", "1.2.3.4/8/9"]) {
      assert.equal(parseCidr(bad).ok, false, bad);
    }
  });
});
