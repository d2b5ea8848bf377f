/**
 * Health checks and adaptive balancing on fakes with a manual clock: rise and
 * fall, logging and counting each change once, jitter, stopping, what each
 * check type calls healthy, and the `ewma` strategy moving traffic away from
 * a slow backend.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BALANCERS } from "../src/balance/registry.ts";
import { checkBytes } from "../src/config/health.ts";
import { ConnectError, type NetPort } from "../src/runtime/types.ts";
import { Ewma } from "../src/upstream/ewma.ts";
import { buildCheck, type CheckResult } from "../src/upstream/health/checks.ts";
import { HealthMonitor } from "../src/upstream/health/monitor.ts";
import { StateBook } from "../src/upstream/state.ts";
import { config } from "./helpers/core.ts";
import { fakeMembers, ManualClock, memoryLogger, seededRandom, settle, tally } from "./helpers/fakes.ts";

const listener = (health: Record<string, unknown>) =>
  config({
    listeners: [{
      listen: "127.0.0.1:7000",
      backends: [{ address: "127.0.0.1:1", name: "one" }],
      health: { interval: "1s", timeout: "200ms", ...health },
    }],
  }).listeners[0];

describe("HealthMonitor", () => {
  test("a backend goes down after `fall` bad checks in a row and up after `rise` good ones, logged once each", async () => {
    const clock = new ManualClock();
    const { log, events } = memoryLogger(clock, "info");
    const states = new StateBook();
    let next: CheckResult = { ok: false, reason: "refused", latencyMs: 1 };
    const changes: string[] = [];
    const l = listener({ rise: 2, fall: 3 });
    const monitor = new HealthMonitor(l, {
      clock,
      log,
      states,
      random: () => 0.5,
      check: () => Promise.resolve(next),
      onChange: (_l, backend, health) => changes.push(`${backend} ${health}`),
    });
    monitor.start();
    const state = () => states.get(l.key, "127.0.0.1:1", l);
    const tick = async (ms: number) => {
      clock.advance(ms);
      await settle();
    };
    await tick(500); // first check at half an interval (random 0.5)
    await tick(1000);
    assert.equal(state().health, "up", "two bad checks are not enough");
    await tick(1000);
    assert.equal(state().health, "down");
    assert.deepEqual(state().lastCheck?.reason, "refused");
    await tick(1000);
    next = { ok: true, reason: "ok", latencyMs: 1 };
    await tick(1000);
    assert.equal(state().health, "down", "one good check is not enough");
    await tick(1000);
    assert.equal(state().health, "up");
    assert.deepEqual(changes, ["127.0.0.1:1 down", "127.0.0.1:1 up"]);
    const logged = events().filter((e) => e.event === "upstream.health");
    assert.deepEqual(logged.map((e) => [e.backend, e.from, e.to, e.reason]), [
      ["one", "up", "down", "refused"],
      ["one", "down", "up", "ok"],
    ]);
    monitor.stop();
    assert.equal(clock.pending, 0, "no check left scheduled");
  });

  test("checks are spread: the first lands within one interval, later ones within +-10% of it", async () => {
    const clock = new ManualClock();
    const times: number[] = [];
    const l = listener({});
    const random = seededRandom(7);
    const monitor = new HealthMonitor(l, {
      clock,
      log: memoryLogger(clock).log,
      states: new StateBook(),
      random,
      check: () => (times.push(clock.now()), Promise.resolve({ ok: true, reason: "ok", latencyMs: 0 })),
    });
    monitor.start();
    for (let i = 0; i < 40; i++) {
      clock.advance(100);
      await settle();
    }
    monitor.stop();
    assert.ok(times[0] <= 1000);
    for (let i = 1; i < times.length; i++) {
      const gap = times[i] - times[i - 1];
      assert.ok(gap >= 900 - 100 && gap <= 1100 + 100, `gap ${gap}`);
    }
  });
});

describe("check types", () => {
  const clock = new ManualClock();
  const probe = (reply: string | Error): Pick<NetPort, "probeTcp" | "probeUdp"> => ({
    probeTcp: () => (reply instanceof Error ? Promise.reject(reply) : Promise.resolve(new TextEncoder().encode(reply))),
    probeUdp: () => (reply instanceof Error ? Promise.reject(reply) : Promise.resolve(new TextEncoder().encode(reply))),
  });
  const run = (reply: string | Error, health: Record<string, unknown>, protocol: "tcp" | "udp" = "tcp") => {
    const l = config({
      listeners: [{ protocol, listen: "127.0.0.1:7000", backends: [{ address: "127.0.0.1:1" }], health }],
    }).listeners[0];
    return buildCheck(probe(reply), clock, protocol, l.health!)({ host: "127.0.0.1", port: 1 });
  };

  test("http: a status in expect_status is healthy; another is reported by its code", async () => {
    assert.equal((await run("HTTP/1.1 204 No Content\r\n", { type: "http" })).ok, true);
    assert.deepEqual(await run("HTTP/1.1 503 Busy\r\n", { type: "http" }), {
      ok: false,
      reason: "status 503",
      latencyMs: 0,
    });
    assert.equal((await run("HTTP/1.0 503 Busy\r\n", { type: "http", expect_status: "500-599" })).ok, true);
    assert.equal((await run("SSH-2.0-OpenSSH\r\n", { type: "http" })).reason, "not an HTTP reply");
  });

  test("send_expect: the reply must contain `expect`, over TCP and UDP", async () => {
    assert.equal((await run("+PONG\r\n", { type: "send_expect", send: "PING\r\n", expect: "+PONG" })).ok, true);
    assert.equal(
      (await run("-ERR\r\n", { type: "send_expect", send: "PING\r\n", expect: "+PONG" })).reason,
      "unexpected reply",
    );
    assert.equal((await run("pong", { send: "ping", expect: "pong" }, "udp")).ok, true);
  });

  test("a connect failure is reported by its reason", async () => {
    const refused = await run(new ConnectError("refused", "Cannot connect"), {});
    assert.deepEqual([refused.ok, refused.reason], [false, "refused"]);
    const timeout = await run(new ConnectError("timeout", "timed out"), { type: "http" });
    assert.equal(timeout.reason, "timeout");
  });

  test("check bytes take escapes and hex", () => {
    assert.deepEqual(checkBytes("PING\\r\\n"), { ok: true, value: new TextEncoder().encode("PING\r\n") });
    assert.deepEqual(checkBytes("hex:00ff"), { ok: true, value: Uint8Array.from([0, 255]) });
    assert.deepEqual(checkBytes("\\xff"), { ok: true, value: Uint8Array.from([255]) });
    assert.equal(checkBytes("hex:abc").ok, false);
    assert.equal(checkBytes("\\q").ok, false);
  });
});

describe("ewma", () => {
  test("Ewma follows a change within a few time constants", () => {
    const e = new Ewma(1000);
    e.observe(10, 0);
    assert.equal(e.value, 10);
    for (let t = 1000; t <= 5000; t += 1000) e.observe(100, t);
    assert.ok(e.value > 95, String(e.value));
  });

  test("the ewma strategy sends most traffic to the fast backend, and shifts back when the slow one recovers", () => {
    const members = fakeMembers(1, 1);
    members[0].latencyMs = 50;
    members[1].latencyMs = 1;
    const balancer = BALANCERS.ewma(members, { random: seededRandom(3) });
    const picks = tally(Array.from({ length: 1000 }, () => balancer.pick(0)!.key));
    assert.ok(picks.b > 900, JSON.stringify(picks));
    members[0].latencyMs = 1;
    members[0].active = 0;
    members[1].active = 10; // the fast one is now loaded
    const after = tally(Array.from({ length: 1000 }, () => balancer.pick(0)!.key));
    assert.ok(after.a > 900, JSON.stringify(after));
  });
});
