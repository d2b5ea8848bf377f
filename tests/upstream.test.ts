/**
 * Upstream state and pools on a manual clock: the breaker, the derivation of
 * "usable" from separate inputs, picking with panic mode, and a pool taking a
 * new member list by key.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Breaker } from "../src/upstream/breaker.ts";
import { BackendState } from "../src/upstream/state.ts";
import { configFor, poolFor } from "./helpers/core.ts";

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

describe("BackendState", () => {
  test("the state shown is the first that holds of disabled, draining/drained, down, ejected, up", () => {
    const s = new BackendState(1, 1000);
    assert.equal(s.shown(0, 0), "up");
    s.recordFailure(0);
    assert.equal(s.shown(0, 10), "ejected");
    s.health = "down";
    assert.equal(s.shown(0, 10), "down");
    s.admin = "draining";
    assert.deepEqual([s.shown(2, 10), s.shown(0, 10)], ["draining", "drained"]);
    s.admin = "disabled";
    assert.equal(s.shown(2, 10), "disabled");
  });

  test("usable needs every input to agree; fallback ignores only ejection", () => {
    const s = new BackendState(1, 1000);
    const inputs = () => [s.usable, s.fallback];
    assert.deepEqual(inputs(), [true, true]);
    s.recordFailure(0);
    assert.deepEqual(inputs(), [false, true], "ejected: panic may still use it");
    s.health = "down";
    assert.deepEqual(inputs(), [false, false], "down by health: never picked");
    s.health = "up";
    s.admin = "draining";
    assert.deepEqual(inputs(), [false, false], "draining: no new connections");
    s.admin = "enabled";
    assert.equal(s.expire(999), false);
    assert.equal(s.expire(1000), true);
    assert.deepEqual(inputs(), [true, true]);
  });

  test("an ejection mirrored from a worker thread shows until cleared", () => {
    const s = new BackendState(1, 1000);
    s.mirrorEjected(true);
    assert.equal(s.shown(0, 1e12), "ejected");
    s.mirrorEjected(false);
    assert.equal(s.shown(0, 0), "up");
  });
});

describe("Pool", () => {
  const build = (maxFails = 1) =>
    poolFor(configFor([1, 2], { max_fails: maxFails, fail_timeout: "10s", balance: "round-robin" }).listeners[0]).pool;

  test("pick() skips an ejected backend until its fail_timeout has passed", () => {
    const pool = build();
    const [a, b] = pool.backends;
    assert.equal(pool.reportFailure(a, 0), true);
    assert.equal(a.state.shown(0, 5000), "ejected");
    for (let i = 0; i < 5; i++) assert.equal(pool.pick(0, undefined, 5000), b);
    const picks = [pool.pick(0, undefined, 10_000), pool.pick(0, undefined, 10_000)].map((m) => m?.name).sort();
    assert.deepEqual(picks, ["127.0.0.1:1", "127.0.0.1:2"]);
    assert.equal(a.state.shown(0, 10_000), "up");
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

  test("panic mode never picks a backend that is down, draining or disabled", () => {
    const pool = build();
    const [a, b] = pool.backends;
    pool.reportFailure(a, 0);
    b.state.health = "down";
    assert.equal(pool.pick(0, undefined, 1), a, "ejected a is the fallback");
    a.state.admin = "draining";
    assert.equal(pool.pick(0, undefined, 1), undefined);
  });

  test("a successful connect to an ejected backend brings it back at once", () => {
    const pool = build();
    const [a] = pool.backends;
    pool.reportFailure(a, 0);
    pool.reportSuccess(a);
    assert.equal(a.state.shown(0, 1), "up");
    assert.equal(a.counters.ejections, 1);
  });

  test("update() keeps kept backends' objects, state and counters, adds new ones and returns removed ones", () => {
    const before = configFor([1, 2, 3], { balance: "least-conn" }).listeners[0];
    const { pool } = poolFor(before);
    const [a, b, c] = pool.backends;
    a.counters.active = 5;
    b.state.admin = "draining";
    pool.reportFailure(c, 0);
    const after = configFor([2, 3, 4], { balance: "least-conn" }).listeners[0];
    const { removed, rebuilt } = pool.update(after);
    assert.deepEqual(removed.map((x) => x.key), ["127.0.0.1:1"]);
    assert.equal(rebuilt, true);
    assert.deepEqual(pool.backends.map((x) => x.key), ["127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"]);
    assert.equal(pool.backends[0], b, "same object for the same address");
    assert.equal(b.state.admin, "draining", "admin state outlives the update");
    assert.equal(c.state.ejected, true, "passive state outlives the update");
    assert.equal(
      pool.pick(0, undefined, 1)?.key,
      "127.0.0.1:4",
      "least-conn sees the kept counts: only the new one is usable",
    );
  });

  test("update() refuses a member list with an address twice", () => {
    const listener = configFor([1, 2]).listeners[0];
    const { pool } = poolFor(listener);
    const twice = { ...listener, backends: [listener.backends[0], listener.backends[0]] };
    assert.throws(() => pool.update(twice), /listed twice/);
  });

  test("update() rebuilds the balancer only when membership or weights change", () => {
    const listener = configFor([1, 2]).listeners[0];
    const { pool } = poolFor(listener);
    assert.equal(pool.update(configFor([1, 2], { idle_timeout: "5s" }).listeners[0]).rebuilt, false);
    const reweighted = { ...listener, backends: listener.backends.map((b, i) => ({ ...b, weight: i + 2 })) };
    assert.equal(pool.update(reweighted).rebuilt, true);
    assert.equal(pool.backends[1].weight, 3);
    assert.equal(pool.update(reweighted).rebuilt, false);
  });

  test("update() keeps a hash ring's mapping for clients of unchanged backends", () => {
    const { pool } = poolFor(configFor([1, 2, 3, 4], { balance: "hash" }).listeners[0]);
    const keys = Array.from({ length: 200 }, (_, i) => (i * 2654435761) >>> 0);
    const before = keys.map((k) => pool.pick(k, undefined, 0)!.key);
    pool.update(configFor([1, 2, 3, 4, 5], { balance: "hash" }).listeners[0]);
    const after = keys.map((k) => pool.pick(k, undefined, 0)!.key);
    const moved = before.filter((key, i) => key !== after[i]);
    assert.ok(moved.length < keys.length / 3, `${moved.length} of ${keys.length} moved`);
    assert.ok(
      after.every((key, i) => key === before[i] || key === "127.0.0.1:5"),
      "clients move only to the new backend",
    );
  });
});
