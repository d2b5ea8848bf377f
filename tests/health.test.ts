/**
 * Active health checks of TCP backends end to end over real loopback
 * sockets: a killed backend goes down within fall x interval + timeout and
 * gets no client after that, and comes back after `rise`; send_expect and
 * http mismatches mark a backend down; `ewma` moves traffic away from a
 * backend whose checks turned slow. With `workers = 2` (where the runtime has
 * workers) checks run once and every thread honours them.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type * as net from "node:net";
import { type Sluice, startSluice } from "../src/compose.ts";
import { loadObject } from "../src/config/load.ts";
import { selectRuntime } from "../src/runtime/select.ts";
import { cleanupAfter } from "./helpers/cleanup.ts";
import { memoryLog } from "./helpers/log.ts";
import { exchange, readAll, startServer, type TestServer, waitFor } from "./helpers/net.ts";

const runtime = selectRuntime();
const { cleanups, server } = cleanupAfter();

/** A server on a given port (a backend coming back where it was). */
async function serverOn(port: number, onSocket: (socket: net.Socket) => void): Promise<TestServer> {
  const s = await startServer(onSocket, {}, port);
  cleanups.push(() => s.close());
  return s;
}

/** A backend that answers "name" to any request. */
const named = (name: string) => (socket: net.Socket) => void readAll(socket).then(() => socket.end(name), () => {});

/** An HTTP backend answering its health path with `status()` after `delay()` ms. */
const http = (status: () => number, delay: () => number = () => 0) => (socket: net.Socket) => {
  socket.once("data", () => {
    setTimeout(() => {
      socket.end(`HTTP/1.1 ${status()} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    }, delay());
  });
};

async function proxy(backends: number[], listener: Record<string, unknown>, top: Record<string, unknown> = {}) {
  const loaded = loadObject({
    admin: { enabled: false },
    drain_timeout: "1s",
    ...top,
    listeners: [{ listen: "127.0.0.1:0", backends: backends.map((p) => ({ address: `127.0.0.1:${p}` })), ...listener }],
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const memory = memoryLog();
  const sluice = await startSluice(runtime, loaded.config, { log: memory.log });
  cleanups.push(() => sluice.shutdown());
  return { sluice, port: sluice.listeners()[0].address.port, ...memory };
}

const healthOf = (sluice: Sluice, port: number) =>
  sluice.states.find(sluice.listeners()[0].key, `127.0.0.1:${port}`)?.health;

describe(`health checks on ${runtime.name}`, () => {
  test("a killed backend goes down in time and gets no client after; it comes back after rise", async () => {
    const a = await server(named("a"));
    const b = await server(named("b"));
    const bPort = b.port;
    const health = { interval: "100ms", timeout: "100ms", fall: 2, rise: 2 };
    const { sluice, port, events } = await proxy([a.port, bPort], { balance: "round-robin", health, max_fails: 0 });
    assert.deepEqual(new Set([await exchange(port), await exchange(port)]), new Set(["a", "b"]));
    await b.close();
    const killed = Date.now();
    assert.ok(await waitFor(() => healthOf(sluice, bPort) === "down", 2 * 110 + 100 + 1000));
    assert.ok(Date.now() - killed <= 2 * 110 + 100 + 1000);
    for (let i = 0; i < 10; i++) assert.equal(await exchange(port), "a");
    const down = events("upstream.health").find((e) => e.to === "down")!;
    assert.equal(down.from, "up");
    assert.match(String(down.reason), /refused/);
    await serverOn(bPort, named("b"));
    assert.ok(await waitFor(() => healthOf(sluice, bPort) === "up", 2000));
    const replies = new Set<string>();
    for (let i = 0; i < 4; i++) replies.add(await exchange(port));
    assert.ok(replies.has("b"), "back in rotation");
    sluice.collector.gather();
    const counters = sluice.collector.backends().find((x) => x.key === `127.0.0.1:${bPort}`)!;
    assert.equal(counters.healthTransitions, 2);
  });

  test("send_expect: a reply without `expect` marks the backend down", async () => {
    let answer = "+PONG\r\n";
    const b = await server((socket) => socket.on("data", () => socket.write(answer)));
    const health = {
      type: "send_expect",
      send: "PING\r\n",
      expect: "+PONG",
      interval: "100ms",
      timeout: "100ms",
      fall: 2,
    };
    const { sluice } = await proxy([b.port], { health });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(healthOf(sluice, b.port), "up");
    answer = "-ERR busy\r\n";
    assert.ok(await waitFor(() => healthOf(sluice, b.port) === "down", 1500));
    const last = sluice.states.find(sluice.listeners()[0].key, `127.0.0.1:${b.port}`)!.lastCheck!;
    assert.deepEqual([last.ok, last.reason], [false, "unexpected reply"]);
  });

  test("http: a status outside expect_status marks the backend down, one inside brings it back", async () => {
    let status = 200;
    const b = await server(http(() => status));
    const health = { type: "http", path: "/healthz", interval: "100ms", timeout: "150ms", fall: 2, rise: 1 };
    const { sluice, events } = await proxy([b.port], { health });
    status = 503;
    assert.ok(await waitFor(() => healthOf(sluice, b.port) === "down", 1500));
    assert.equal(events("upstream.health").at(-1)!.reason, "status 503");
    status = 204;
    assert.ok(await waitFor(() => healthOf(sluice, b.port) === "up", 1500));
  });

  test("ewma moves traffic away from a backend whose checks turned slow", async () => {
    let slow = false;
    const a = await server((socket) => {
      socket.once("data", (d) => {
        if (d.toString().startsWith("GET")) {
          setTimeout(() => socket.end("HTTP/1.1 200 OK\r\n\r\n"), slow ? 60 : 0);
        } else socket.end("a");
      });
    });
    const b = await server((socket) => {
      socket.once("data", (d) => socket.end(d.toString().startsWith("GET") ? "HTTP/1.1 200 OK\r\n\r\n" : "b"));
    });
    const health = { type: "http", interval: "100ms", timeout: "500ms" };
    const { port } = await proxy([a.port, b.port], { balance: "ewma", health });
    slow = true;
    await new Promise((r) => setTimeout(r, 800));
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 40; i++) counts[await exchange(port, "x")]++;
    assert.ok(counts.b >= 30, `slow a got ${counts.a} of 40`);
  });

  test(
    runtime.net.supportsReusePort
      ? "with workers = 2 checks run once, on the main thread, and both threads honour them"
      : "with workers = 2 (one thread here) checks still take a killed backend out",
    async () => {
      const a = await server(named("a"));
      const b = await server(named("b"));
      const health = { interval: "100ms", timeout: "100ms", fall: 2 };
      const { sluice, port } = await proxy([a.port, b.port], { balance: "round-robin", health, max_fails: 0 }, {
        workers: 2,
      });
      await b.close();
      assert.ok(await waitFor(() => healthOf(sluice, b.port) === "down", 2000));
      await new Promise((r) => setTimeout(r, 50)); // the message reaches the worker threads
      for (let i = 0; i < 20; i++) assert.equal(await exchange(port), "a");
    },
  );
});
