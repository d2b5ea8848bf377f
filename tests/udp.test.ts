/**
 * UDP forwarding end to end over real loopback sockets, in process: many
 * clients each getting their own replies, sessions that idle out, max_sessions,
 * responses = 1, the largest IPv4 datagram, IPv6, a TCP and a UDP listener on
 * one port, and a backend that stops answering taken out by health checks.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Sluice, startSluice } from "../src/compose.ts";
import { loadObject } from "../src/config/load.ts";
import { Logger } from "../src/log.ts";
import { selectRuntime } from "../src/runtime/select.ts";
import { exchange, replyAfterRequest, startServer, waitFor } from "./helpers/net.ts";
import { startUdpServer, udpClient, type UdpServer } from "./helpers/udp.ts";

const runtime = selectRuntime();
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const quietLog = () =>
  new Logger({ level: "error", format: "json" }, {
    write: () => {},
    wallNow: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as number),
  });

async function echo(host = "127.0.0.1"): Promise<UdpServer> {
  const server = await startUdpServer((data) => data, host);
  cleanups.push(() => server.close());
  return server;
}

async function proxy(listeners: Record<string, unknown>[], admin = false): Promise<Sluice> {
  const loaded = loadObject({
    admin: admin ? { listen: "127.0.0.1:0" } : { enabled: false },
    drain_timeout: "1s",
    listeners,
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const sluice = await startSluice(runtime, loaded.config, { log: quietLog() });
  cleanups.push(() => sluice.shutdown());
  return sluice;
}

const udpListener = (backends: number[], extra: Record<string, unknown> = {}, host = "127.0.0.1") => ({
  protocol: "udp",
  listen: host.includes(":") ? `[${host}]:0` : `${host}:0`,
  backends: backends.map((p) => ({ address: host.includes(":") ? `[${host}]:${p}` : `${host}:${p}` })),
  ...extra,
});

const portOf = (sluice: Sluice, i = 0) => sluice.listeners()[i].address.port;

describe(`UDP on ${runtime.name}`, () => {
  test("100 clients x 100 datagrams: every reply reaches the client that asked", async () => {
    const a = await echo();
    const b = await echo();
    const sluice = await proxy([udpListener([a.port, b.port])]);
    const port = portOf(sluice);
    const wrong: string[] = [];
    await Promise.all(Array.from({ length: 100 }, async (_, c) => {
      const client = await udpClient(port);
      for (let i = 0; i < 100; i++) {
        const question = `client ${c} datagram ${i}`;
        const reply = await client.ask(question);
        if (reply?.toString() !== question) wrong.push(`${question}: ${reply?.toString()}`);
      }
      client.close();
    }));
    assert.deepEqual(wrong.slice(0, 5), []);
    const recent = sluice.collector.recent.list();
    assert.ok(recent.length === 0 || recent.every((s) => s.protocol === "udp"));
    assert.equal(a.received + b.received, 10_000);
    assert.ok(a.received > 0 && b.received > 0, "both backends served");
    sluice.collector.gather();
    const l = sluice.collector.listeners()[0];
    assert.deepEqual([l.connections, l.datagramsToUpstream, l.datagramsToClient], [100, 10_000, 10_000]);
  });

  test("a session ends after idle_timeout; max_sessions drops a new client while others carry on", async () => {
    const backend = await echo();
    const sluice = await proxy([udpListener([backend.port], { idle_timeout: "300ms", max_sessions: 2 })], true);
    const port = portOf(sluice);
    const [c1, c2, c3] = await Promise.all([udpClient(port), udpClient(port), udpClient(port)]);
    assert.equal((await c1.ask("a"))?.toString(), "a");
    assert.equal((await c2.ask("b"))?.toString(), "b");
    assert.equal(await c3.ask("c", 300), undefined, "the third session is over the limit");
    assert.equal((await c1.ask("a2"))?.toString(), "a2", "existing sessions carry on");
    const admin = sluice.adminAddress!;
    const table = await (await fetch(`http://127.0.0.1:${admin.port}/api/v1/connections`)).json();
    assert.equal(table.live_total, 2);
    assert.deepEqual(table.live.map((s: { protocol: string }) => s.protocol), ["udp", "udp"]);
    const l = sluice.collector.listeners()[0];
    assert.equal(l.dropped.max_sessions, 1);
    assert.ok(await waitFor(() => l.active === 0, 3000), "sessions idle out");
    assert.equal((await c3.ask("c2"))?.toString(), "c2", "room again once they did");
    for (const c of [c1, c2, c3]) c.close();
  });

  test("responses = 1: one reply per query and the session is gone at once", async () => {
    const backend = await echo();
    const sluice = await proxy([udpListener([backend.port], { responses: 1 })]);
    const client = await udpClient(portOf(sluice));
    for (let i = 0; i < 20; i++) assert.equal((await client.ask(`q${i}`))?.toString(), `q${i}`);
    const l = sluice.collector.listeners()[0];
    assert.ok(await waitFor(() => l.active === 0, 1000));
    assert.equal(l.connections, 20, "one session per query");
    client.close();
  });

  test("a 65,507-byte datagram arrives intact both ways", async () => {
    const backend = await echo();
    const sluice = await proxy([udpListener([backend.port])]);
    const client = await udpClient(portOf(sluice));
    const big = Buffer.alloc(65_507);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 255;
    const reply = await client.ask(big);
    assert.ok(reply && reply.equals(big), `got ${reply?.length} bytes`);
    client.close();
  });

  test("IPv6: a listener on ::1 forwards to a backend on ::1", async () => {
    const backend = await echo("::1");
    const sluice = await proxy([udpListener([backend.port], {}, "::1")]);
    const client = await udpClient(portOf(sluice), "::1");
    assert.equal((await client.ask("six"))?.toString(), "six");
    client.close();
  });

  test("a TCP and a UDP listener share one port number", async () => {
    const udpBackend = await echo();
    const tcpBackend = await startServer(replyAfterRequest("tcp-ok"));
    cleanups.push(() => tcpBackend.close());
    // A port number free for both protocols: one the OS just handed out for TCP, tried a few times.
    let sluice: Sluice | undefined;
    let port = 0;
    for (let attempt = 0; attempt < 5 && !sluice; attempt++) {
      const probe = await startServer(() => {});
      port = probe.port;
      await probe.close();
      sluice = await proxy([
        { listen: `127.0.0.1:${port}`, backends: [{ address: `127.0.0.1:${tcpBackend.port}` }] },
        udpListener([udpBackend.port], { listen: `127.0.0.1:${port}` }),
      ]).catch(() => undefined);
    }
    assert.ok(sluice, "no port number was free for both protocols");
    assert.deepEqual(sluice.listeners().map((l) => l.address.port), [port, port]);
    assert.equal(await exchange(port, "x"), "tcp-ok");
    const client = await udpClient(port);
    assert.equal((await client.ask("udp"))?.toString(), "udp");
    client.close();
  });

  test("a backend that stops answering is taken out by send_expect checks; clients move to the other", async () => {
    let aAnswers = true;
    const a = await startUdpServer((data) => (aAnswers ? data : undefined));
    cleanups.push(() => a.close());
    const b = await echo();
    const health = { interval: "100ms", timeout: "80ms", fall: 2, rise: 2, send: "ping", expect: "ping" };
    const sluice = await proxy([udpListener([a.port, b.port], { balance: "round-robin", responses: 1, health })]);
    const client = await udpClient(portOf(sluice));
    aAnswers = false;
    const key = sluice.listeners()[0].key;
    const state = () => sluice.states.find(key, `127.0.0.1:${a.port}`)?.health;
    assert.ok(await waitFor(() => state() === "down", 2 * 100 + 80 + 1000), "marked down");
    const before = a.received;
    for (let i = 0; i < 10; i++) assert.equal((await client.ask(`q${i}`))?.toString(), `q${i}`);
    assert.ok(a.received - before <= 2, "no client datagram goes to the down backend (checks still do)");
    aAnswers = true;
    assert.ok(await waitFor(() => state() === "up", 2000), "back up after rise");
    client.close();
  });
});
