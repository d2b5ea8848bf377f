/**
 * The reload seam on fakes: `diff(old, new)` as a pure plan, and
 * `Listeners.apply(plan)` keeping sockets and sessions of what stayed.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { diff } from "../src/config/diff.ts";
import { config } from "./helpers/core.ts";
import { fakeSluice } from "./helpers/core.ts";
import { settle } from "./helpers/fakes.ts";

const listener = (listen: string, ports: number[], extra: Record<string, unknown> = {}) => ({
  listen,
  backends: ports.map((p) => ({ address: `127.0.0.1:${p}` })),
  ...extra,
});

describe("diff()", () => {
  test("listeners are matched by protocol and address, not by name", () => {
    const a = config({ listeners: [listener("127.0.0.1:81", [1], { name: "web" }), listener("127.0.0.1:82", [1])] });
    const b = config({ listeners: [listener("127.0.0.1:81", [1], { name: "www" }), listener("127.0.0.1:83", [1])] });
    const plan = diff(a, b);
    assert.deepEqual(plan.add.map((l) => l.key), ["tcp/127.0.0.1:83"]);
    assert.deepEqual(plan.remove, ["tcp/127.0.0.1:82"]);
    assert.deepEqual(plan.update.map((u) => [u.key, u.settingsChanged]), [["tcp/127.0.0.1:81", true]]);
    assert.deepEqual(plan.unchanged, []);
  });

  test("a pool change lists added, removed and reweighted backends by address", () => {
    const a = config({ listeners: [listener("127.0.0.1:81", [1, 2, 3])] });
    const doc = listener("127.0.0.1:81", [2, 3, 4]);
    doc.backends[1] = { address: "127.0.0.1:3", weight: 5 } as { address: string };
    const plan = diff(a, config({ listeners: [doc] }));
    assert.equal(plan.update.length, 1);
    assert.deepEqual(plan.update[0].pool, {
      added: ["127.0.0.1:4"],
      removed: ["127.0.0.1:1"],
      changed: ["127.0.0.1:3"],
    });
    assert.equal(plan.update[0].settingsChanged, false);
  });

  test("a named port-0 listener keeps its identity when another one before it is deleted", () => {
    const named = (name: string, port: number) => ({ ...listener("127.0.0.1:0", [port]), name });
    const before = config({ listeners: [named("alpha", 1), named("beta", 2)] });
    assert.deepEqual(before.listeners.map((l) => l.key), ["tcp/127.0.0.1:0#alpha", "tcp/127.0.0.1:0#beta"]);
    const plan = diff(before, config({ listeners: [named("beta", 2)] }));
    assert.deepEqual(plan.remove, ["tcp/127.0.0.1:0#alpha"]);
    assert.deepEqual(plan.unchanged, ["tcp/127.0.0.1:0#beta"]);
  });

  test("the same configuration is all unchanged; workers and admin changes need a restart", () => {
    const a = config({ listeners: [listener("127.0.0.1:0", [1]), listener("127.0.0.1:0", [2])] });
    assert.deepEqual(a.listeners.map((l) => l.key), ["tcp/127.0.0.1:0", "tcp/127.0.0.1:0#1"]);
    const same = diff(a, a);
    assert.deepEqual([same.add, same.remove, same.update, same.restart], [[], [], [], []]);
    assert.equal(same.unchanged.length, 2);
    const b = config({
      workers: 2,
      admin: { listen: "127.0.0.1:9999" },
      drain_timeout: "1s",
      log: { level: "debug" },
      listeners: [listener("127.0.0.1:0", [1])],
    });
    assert.deepEqual(diff(a, b).restart, ["workers", "admin"]);
    assert.deepEqual(diff(a, b).settings, ["drain_timeout", "log"]);
  });
});

describe("Listeners.apply()", () => {
  test("a plan naming a listener that is not running is refused before anything binds", async () => {
    const a = config({ listeners: [listener("127.0.0.1:7001", [1])] });
    const s = await fakeSluice(a);
    const other = config({ listeners: [listener("127.0.0.1:7009", [1])] });
    const plan = { ...diff(other, config({ listeners: [listener("127.0.0.1:7002", [1])] })) };
    await assert.rejects(s.listeners.apply(plan), /no listener tcp\/127.0.0.1:7009/);
    assert.deepEqual(s.network.listening(), [7001]);
  });

  test("kept listeners keep their socket (and port-0 port) and live sessions; removed ones stop accepting", async () => {
    const a = config({ listeners: [listener("127.0.0.1:0", [1]), listener("127.0.0.1:7001", [1])] });
    const s = await fakeSluice(a);
    const [kept, gone] = s.listeners.addresses();
    s.network.accept(undefined, kept.address.port);
    s.network.accept(undefined, gone.address.port);
    await settle();
    const b = config({ listeners: [listener("127.0.0.1:0", [1, 2]), listener("127.0.0.1:7002", [1])] });
    await s.listeners.apply(diff(a, b));
    const after = s.listeners.addresses();
    assert.deepEqual(after.map((l) => l.key), ["tcp/127.0.0.1:0", "tcp/127.0.0.1:7002"]);
    assert.equal(after[0].address.port, kept.address.port, "the bound port survives");
    assert.deepEqual(s.network.listening().sort(), [kept.address.port, 7002].sort());
    assert.equal(s.sessions.size, 2, "sessions of the removed listener carry on");
    assert.equal(s.network.relays.some((r) => r.client.aborted), false);
    assert.equal(s.listeners.pool("tcp/127.0.0.1:0")!.backends.length, 2);
    for (const relay of s.network.relays) relay.finish({ outcome: "client_closed" });
    await settle();
    s.collector.tick();
    assert.deepEqual(
      s.collector.listeners().map((l) => l.key),
      ["tcp/127.0.0.1:0", "tcp/127.0.0.1:7002"],
      "the removed listener's counters are forgotten once idle",
    );
  });

  test("a new listener that cannot bind changes nothing", async () => {
    const a = config({ listeners: [listener("127.0.0.1:7001", [1])] });
    const s = await fakeSluice(a);
    s.network.busy.add(7003);
    const b = config({ listeners: [listener("127.0.0.1:7002", [1]), listener("127.0.0.1:7003", [1])] });
    await assert.rejects(s.listeners.apply(diff(a, b)), /Cannot listen on 127.0.0.1:7003/);
    assert.deepEqual(s.listeners.addresses().map((l) => l.key), ["tcp/127.0.0.1:7001"]);
    assert.deepEqual(s.network.listening(), [7001], "the listener bound before the failure is closed again");
    s.collector.tick();
    assert.deepEqual(s.collector.listeners().map((l) => l.key), ["tcp/127.0.0.1:7001"], "no counters left behind");
    assert.equal(s.states.find("tcp/127.0.0.1:7002", "127.0.0.1:1"), undefined, "no state left behind");
  });

  test("a removed backend keeps its live session and its counters until that session ends", async () => {
    const a = config({ listeners: [listener("127.0.0.1:7001", [1, 2], { balance: "round-robin" })] });
    const s = await fakeSluice(a);
    s.network.accept();
    await settle();
    const b = config({ listeners: [listener("127.0.0.1:7001", [2], { balance: "round-robin" })] });
    await s.listeners.apply(diff(a, b));
    s.collector.tick();
    assert.equal(s.backend(1).active, 1);
    assert.ok(s.collector.backends().some((x) => x.key === "127.0.0.1:1"), "still shown while active");
    s.network.accept();
    await settle();
    assert.deepEqual(s.network.dials.map((d) => d.port), [1, 2], "new sessions go to the remaining backend");
    s.network.relays[0].finish({ outcome: "client_closed" });
    await settle();
    s.collector.tick();
    assert.deepEqual(s.collector.backends().map((x) => x.key), ["127.0.0.1:2"]);
  });
});
