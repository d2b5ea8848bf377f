/**
 * UDP sessions on the fake network with a manual clock: one session per
 * client address, replies to the right client, idle expiry, max_sessions,
 * responses and requests, re-balancing away from a backend that went down,
 * and the bounded queue while an upstream socket opens.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { config, fakeSluice } from "./helpers/core.ts";
import { settle } from "./helpers/fakes.ts";

const udpConfig = (ports: number[], extra: Record<string, unknown> = {}) =>
  config({
    listeners: [{
      name: "dns",
      protocol: "udp",
      listen: "127.0.0.1:5353",
      balance: "round-robin",
      backends: ports.map((p) => ({ address: `127.0.0.1:${p}` })),
      ...extra,
    }],
  });

const client = (port: number) => ({ host: "192.0.2.1", port });

describe("UDP sessions on a fake network", () => {
  test("each client address gets its own upstream socket, and replies go back to that client only", async () => {
    const s = await fakeSluice(udpConfig([1, 2]));
    const udp = s.network.udp;
    udp.receive(5353, client(1000), "q1");
    udp.receive(5353, client(2000), "q2");
    udp.receive(5353, client(1000), "q1b");
    await settle();
    assert.equal(udp.upstreams.length, 2);
    const [a, b] = udp.upstreams;
    assert.deepEqual(a.sent.map((d) => new TextDecoder().decode(d)), ["q1", "q1b"], "in order, not merged");
    a.reply("r1");
    b.reply("r2");
    assert.deepEqual(udp.sent(5353), [{ data: "r1", to: "192.0.2.1:1000" }, { data: "r2", to: "192.0.2.1:2000" }]);
    assert.equal(s.listener().active, 2);
    assert.equal(s.listener().datagramsToUpstream, 3);
  });

  test("a session ends after idle_timeout without a datagram either way; a reply keeps it alive", async () => {
    const s = await fakeSluice(udpConfig([1], { idle_timeout: "1s" }));
    const udp = s.network.udp;
    udp.receive(5353, client(1), "q");
    await settle();
    s.clock.advance(800);
    udp.upstreams[0].reply("r"); // activity at 800 ms
    s.clock.advance(800);
    assert.equal(udp.upstreams[0].closed, false);
    s.clock.advance(500);
    assert.equal(udp.upstreams[0].closed, true);
    await settle();
    assert.equal(s.collector.recent.list()[0].closeReason, "idle_timeout");
    assert.equal(s.listener().active, 0);
  });

  test("past max_sessions a new client's datagrams are dropped and counted; existing sessions carry on", async () => {
    const s = await fakeSluice(udpConfig([1], { max_sessions: 2 }));
    const udp = s.network.udp;
    for (const port of [1, 2, 3]) udp.receive(5353, client(port), "q");
    udp.receive(5353, client(1), "again");
    await settle();
    assert.equal(udp.upstreams.length, 2);
    assert.equal(s.listener().dropped.max_sessions, 1);
    assert.equal(udp.upstreams[0].sent.length, 2);
  });

  test("sessions retired by `requests` count toward max_sessions, so one client cannot pile them up", async () => {
    const s = await fakeSluice(udpConfig([1], { requests: 1, max_sessions: 2 }));
    const udp = s.network.udp;
    for (let i = 0; i < 5; i++) udp.receive(5353, client(1), `q${i}`);
    await settle();
    assert.equal(udp.upstreams.length, 2);
    assert.equal(s.listener().dropped.max_sessions, 3);
  });

  test("in panic mode (every backend ejected) a client keeps its session instead of one per datagram", async () => {
    const s = await fakeSluice(udpConfig([1, 2]));
    const key = s.listeners.addresses()[0].key;
    for (const port of [1, 2]) s.states.find(key, `127.0.0.1:${port}`)!.recordFailure(s.clock.now());
    const udp = s.network.udp;
    for (let i = 0; i < 5; i++) udp.receive(5353, client(1), `q${i}`);
    await settle();
    assert.equal(udp.upstreams.length, 1);
    assert.equal(udp.upstreams[0].sent.length, 5);
  });

  test("responses = 1 ends the session at the first reply (the DNS case); the next query opens a new one", async () => {
    const s = await fakeSluice(udpConfig([1], { responses: 1 }));
    const udp = s.network.udp;
    udp.receive(5353, client(1), "q");
    await settle();
    udp.upstreams[0].reply("r");
    assert.equal(udp.upstreams[0].closed, true, "the socket is freed at once");
    udp.receive(5353, client(1), "q2");
    await settle();
    assert.equal(udp.upstreams.length, 2);
    assert.equal(s.collector.recent.list()[0].closeReason, "responses");
  });

  test("responses = 1 with three queries in flight on one client port answers all three, then ends", async () => {
    const s = await fakeSluice(udpConfig([1], { responses: 1 }));
    const udp = s.network.udp;
    for (const q of ["q1", "q2", "q3"]) udp.receive(5353, client(1), q);
    await settle();
    assert.equal(udp.upstreams.length, 1, "one session carries all three");
    for (const r of ["r1", "r2"]) udp.upstreams[0].reply(r);
    assert.equal(udp.upstreams[0].closed, false, "two of three answers in");
    udp.upstreams[0].reply("r3");
    assert.equal(udp.upstreams[0].closed, true);
    assert.deepEqual(udp.sent(5353).map((x) => x.data), ["r1", "r2", "r3"]);
  });

  test("requests = 2: the third datagram of a client starts a new session, re-balanced", async () => {
    const s = await fakeSluice(udpConfig([1, 2], { requests: 2 }));
    const udp = s.network.udp;
    for (let i = 0; i < 3; i++) udp.receive(5353, client(1), `q${i}`);
    await settle();
    assert.deepEqual(udp.upstreams.map((u) => [u.peer.port, u.sent.length]), [[1, 2], [2, 1]]);
  });

  test("when a session's backend goes down, the client's next datagram starts a session on a usable one", async () => {
    const s = await fakeSluice(udpConfig([1, 2]));
    const udp = s.network.udp;
    udp.receive(5353, client(1), "q");
    await settle();
    const first = udp.upstreams[0].peer.port;
    s.states.find(s.listeners.addresses()[0].key, `127.0.0.1:${first}`)!.health = "down";
    udp.receive(5353, client(1), "q2");
    await settle();
    assert.equal(udp.upstreams.length, 2);
    assert.notEqual(udp.upstreams[1].peer.port, first);
    assert.equal(udp.upstreams[0].closed, true);
    assert.equal(s.collector.recent.list()[0].closeReason, "backend_down");
  });

  test("datagrams that arrive while the upstream socket opens are queued in order, bounded, then sent", async () => {
    const s = await fakeSluice(udpConfig([1]));
    const udp = s.network.udp;
    udp.hold(true);
    for (let i = 0; i < 70; i++) udp.receive(5353, client(1), `q${i}`);
    await settle();
    assert.equal(udp.upstreams[0].sent.length, 0);
    udp.openAll();
    await settle();
    const sent = udp.upstreams[0].sent.map((d) => new TextDecoder().decode(d));
    assert.equal(sent.length, 64);
    assert.deepEqual(sent.slice(0, 3), ["q0", "q1", "q2"]);
    assert.equal(s.listener().dropped.queue_full, 6);
  });

  test("an ICMP refusal counts against the backend like a refused connect", async () => {
    const s = await fakeSluice(udpConfig([1, 2], { max_fails: 1 }));
    const udp = s.network.udp;
    udp.receive(5353, client(1), "q");
    await settle();
    udp.upstreams[0].fail("refused");
    const refused = s.states.find(s.listeners.addresses()[0].key, `127.0.0.1:${udp.upstreams[0].peer.port}`)!;
    assert.equal(refused.ejected, true);
  });

  test("shutdown lets sessions run until the drain timeout, still answering new clients, then ends them all", async () => {
    const s = await fakeSluice(udpConfig([1], { idle_timeout: "1m" }));
    const udp = s.network.udp;
    udp.receive(5353, client(1), "q");
    await settle();
    const stopping = s.listeners.shutdown(5000);
    await settle();
    // The socket is open for the replies anyway, and during --takeover the kernel sends it part of the new clients.
    udp.receive(5353, client(2), "new client after shutdown");
    assert.equal(udp.upstreams.length, 2, "a new client still gets a session while draining");
    s.clock.advance(5000);
    await settle();
    assert.deepEqual(await stopping, { drained: 0, aborted: 2 });
    assert.ok(udp.upstreams.every((u) => u.closed), "every session's socket is released");
  });

  test("shutdown with no session releases the socket at once", async () => {
    const s = await fakeSluice(udpConfig([1], { idle_timeout: "1m" }));
    assert.deepEqual(await s.listeners.shutdown(5000), { drained: 0, aborted: 0 });
    // The fake network forgets a closed socket: a datagram for the port has nobody to go to.
    assert.throws(() => s.network.udp.receive(5353, client(1), "too late"), TypeError);
    assert.equal(s.network.udp.upstreams.length, 0);
  });
});
