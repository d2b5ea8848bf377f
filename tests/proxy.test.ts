/**
 * Sluice end to end, in process, over real loopback sockets: integrity,
 * half-close, concurrency, balancing, failed backends, idle timeout, drain,
 * the admin API and the connection log.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type * as net from "node:net";
import { type Sluice, startSluice } from "../src/compose.ts";
import { loadObject } from "../src/config/load.ts";
import { memoryLog } from "./helpers/log.ts";
import { promtool } from "./helpers/prometheus.ts";
import { selectRuntime } from "../src/runtime/select.ts";
import type { Runtime } from "../src/runtime/types.ts";
import {
  closed,
  connect,
  delay,
  digestUntilEnd,
  ended,
  exchange,
  howEnded,
  readAll,
  replyAfterRequest,
  sendRandom,
  startServer,
  type TestServer,
  waitFor,
} from "./helpers/net.ts";

const runtime = selectRuntime();

/** Starts Sluice in process with one listener in front of `backends` (ports). */
async function startProxy(
  backends: number[],
  listener: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
  on: Runtime = runtime,
) {
  const loaded = loadObject({
    admin: { listen: "127.0.0.1:0" },
    ...top,
    listeners: [{
      name: "test",
      listen: "127.0.0.1:0",
      backends: backends.map((port) => ({ address: `127.0.0.1:${port}` })),
      ...listener,
    }],
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const memory = memoryLog();
  const sluice = await startSluice(on, loaded.config, { log: memory.log });
  return { sluice, port: sluice.listeners()[0].address.port, ...memory };
}

/** The counters of the one listener. */
const listenerOf = (sluice: Sluice) => sluice.collector.listeners()[0];
/** The counters of the backend on 127.0.0.1:port. */
const backendOf = (sluice: Sluice, port: number) =>
  sluice.collector.backends().find((b) => b.key === `127.0.0.1:${port}`)!;

const servers: (TestServer | { close(): Promise<unknown> })[] = [];
const sluices: Sluice[] = [];
after(async () => {
  for (const s of sluices) await s.shutdown();
  for (const s of servers) await s.close();
});

async function backend(onSocket: (socket: net.Socket) => void): Promise<TestServer> {
  const server = await startServer(onSocket);
  servers.push(server);
  return server;
}

async function proxy(...args: Parameters<typeof startProxy>) {
  const started = await startProxy(...args);
  sluices.push(started.sluice);
  return started;
}

/** An echo backend that half-closes when the client does. */
const echo = (socket: net.Socket) => {
  socket.on("data", (d) => socket.write(d));
  socket.on("end", () => socket.end());
};

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = await startServer(() => {});
  const port = server.port;
  await server.close();
  return port;
}

describe(`proxy end to end on ${runtime.name}`, () => {
  test("64 MiB each way arrive intact and the listener counts every byte", async () => {
    const size = 64 << 20;
    let backendResult: Promise<[{ bytes: number; sha256: string }, string]> | undefined;
    const b = await backend((
      socket,
    ) => (backendResult = Promise.all([digestUntilEnd(socket), sendRandom(socket, size)])));
    const { sluice, port } = await proxy([b.port]);
    const client = await connect(port);
    const [sent, received] = await Promise.all([sendRandom(client, size), digestUntilEnd(client)]);
    const [backendReceived, backendSent] = await backendResult!;
    assert.deepEqual(backendReceived, { bytes: size, sha256: sent });
    assert.deepEqual(received, { bytes: size, sha256: backendSent });
    await closed(client);
    await waitFor(() => sluice.collector.total.active === 0);
    const stats = listenerOf(sluice);
    assert.equal(stats.toUpstream, size);
    assert.equal(stats.toClient, size);
  });

  test("a client's half-close reaches the backend and the reply still arrives in full", async () => {
    const b = await backend(async (socket) => {
      const request = await readAll(socket);
      await sendRandom(socket, 1 << 20, { end: false });
      socket.end(`|${request}`);
    });
    const { port } = await proxy([b.port]);
    const client = await connect(port);
    client.end("question");
    const reply = await readAll(client);
    assert.equal(reply.length, (1 << 20) + "|question".length);
    assert.equal(reply.subarray(-9).toString(), "|question");
  });

  test("a backend's half-close reaches the client, which can still send afterwards", async () => {
    let late: Promise<Buffer> | undefined;
    const b = await backend((socket) => {
      socket.end("bye");
      late = readAll(socket);
    });
    const { port } = await proxy([b.port]);
    const client = await connect(port);
    assert.equal((await readAll(client)).toString(), "bye");
    client.end("still here");
    assert.equal((await late!).toString(), "still here");
  });

  test("200 concurrent connections each get their own bytes back", async () => {
    const b = await backend(echo);
    const { sluice, port } = await proxy([b.port]);
    const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      const client = await connect(port);
      const payload = Buffer.alloc(16 * 1024, i % 251);
      payload.write(`conn-${i}`);
      const reply = readAll(client);
      client.end(payload);
      return (await reply).equals(payload);
    }));
    assert.equal(results.filter(Boolean).length, 200);
    await waitFor(() => sluice.collector.total.active === 0);
    assert.equal(listenerOf(sluice).connections, 200);
    assert.equal(backendOf(sluice, b.port).connections, 200);
  });

  test("equal weights spread connections evenly; weights 1:3 give 1:3", async () => {
    const tagged = (tag: string) => backend(replyAfterRequest(tag));
    const [a, b, c] = await Promise.all([tagged("a"), tagged("b"), tagged("c")]);
    const even = await proxy([a.port, b.port, c.port]);
    const tags: string[] = [];
    for (let i = 0; i < 30; i++) tags.push(await exchange(even.port));
    assert.deepEqual(tags.slice(0, 6), ["a", "b", "c", "a", "b", "c"]);
    const loaded = loadObject({
      admin: { enabled: false },
      listeners: [{
        listen: "127.0.0.1:0",
        backends: [{ address: `127.0.0.1:${a.port}` }, { address: `127.0.0.1:${b.port}`, weight: 3 }],
      }],
    });
    assert.ok(loaded.ok);
    const weighted = await startSluice(runtime, loaded.config, { log: memoryLog().log });
    sluices.push(weighted);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const tag = await exchange(weighted.listeners()[0].address.port);
      counts[tag] = (counts[tag] ?? 0) + 1;
    }
    assert.deepEqual(counts, { a: 10, b: 30 });
  });

  test("a dead backend is skipped, counted, and ejected so later clients do not pay for it", async () => {
    const dead = await deadPort();
    const live = await backend(replyAfterRequest("ok"));
    const { sluice, port, events } = await proxy([dead, live.port], { balance: "round-robin" });
    for (let i = 0; i < 10; i++) assert.equal(await exchange(port), "ok");
    const deadStats = backendOf(sluice, dead);
    assert.equal(deadStats.connectErrors.refused, 1);
    const state = sluice.states.find(sluice.listeners()[0].key, `127.0.0.1:${dead}`)!;
    assert.equal(state.shown(deadStats.active, performance.now()), "ejected");
    assert.equal(deadStats.ejections, 1);
    assert.equal(listenerOf(sluice).rejected.no_backend, 0);
    const failed = events("upstream.connect_failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0].reason, "refused");
    assert.equal(failed[0].ejected, true);
  });

  test("when no backend can be reached the client is closed at once and counted", async () => {
    const { sluice, port, events } = await proxy([await deadPort(), await deadPort()], { retries: 5 });
    const client = await connect(port);
    client.on("error", () => {});
    client.write("anyone?");
    await ended(client);
    assert.equal(listenerOf(sluice).rejected.no_backend, 1);
    const errors = sluice.collector.backends().reduce((n, b) => n + b.connectErrors.refused, 0);
    assert.equal(errors, 2, "each backend tried once: retries never repeat a backend");
    const close = events("conn.close")[0];
    assert.equal(close.reason, "no_backend");
    assert.equal(close.level, "warn");
  });

  test("an idle connection is closed after idle_timeout; a chatty one is not", async () => {
    const b = await backend(echo);
    const { sluice, port, events } = await proxy([b.port], { idle_timeout: "300ms" });
    const idle = await connect(port);
    const chatty = await connect(port);
    chatty.on("data", () => {});
    const start = Date.now();
    for (let i = 0; i < 8; i++) {
      chatty.write("ping");
      await delay(100);
    }
    await ended(idle);
    assert.ok(Date.now() - start >= 300);
    assert.ok(!chatty.readableEnded && !chatty.destroyed, "the chatty connection was cut");
    assert.equal(events("conn.close").filter((e) => e.reason === "idle_timeout").length, 1);
    chatty.end();
    await ended(chatty);
    await waitFor(() => sluice.collector.total.active === 0);
  });

  test("an idle timeout ends both sides with a FIN, not a reset", async () => {
    let backendSide: Promise<"fin" | "reset"> | undefined;
    const b = await backend((socket) => (backendSide = howEnded(socket)));
    const { port, events } = await proxy([b.port], { idle_timeout: "300ms" });
    const client = await connect(port);
    assert.equal(await howEnded(client), "fin", "the client got a FIN");
    client.destroy();
    assert.ok(await waitFor(() => backendSide !== undefined));
    assert.equal(await backendSide, "fin", "the backend got a FIN");
    assert.ok(await waitFor(() => events("conn.close").some((e) => e.reason === "idle_timeout")));
  });

  test("after the client's FIN, a silent backend is cut at half_close_timeout, long before idle_timeout", async () => {
    const b = await backend(() => {}); // reads the FIN, never answers, never closes
    const { sluice, port, events } = await proxy([b.port], { idle_timeout: "10m", half_close_timeout: "300ms" });
    const client = await connect(port);
    client.end("request");
    const start = Date.now();
    assert.equal(await howEnded(client), "fin");
    assert.ok(Date.now() - start >= 300, "not before the half-close timeout");
    assert.ok(await waitFor(() => sluice.collector.total.active === 0));
    assert.equal(events("conn.close").filter((e) => e.reason === "half_close_timeout").length, 1);
    client.destroy();
  });

  test("a loop the validator cannot see (two proxies forwarding to each other) is bounded by max_connections", async () => {
    const bPort = await deadPort();
    const a = await proxy([bPort], { max_connections: 20 });
    const b = await proxy([a.port], { max_connections: 20, listen: `127.0.0.1:${bPort}` });
    const client = await connect(a.port);
    client.on("error", () => {});
    client.write("x");
    const refused = () => listenerOf(a.sluice).rejected.max_connections + listenerOf(b.sluice).rejected.max_connections;
    assert.ok(await waitFor(() => refused() > 0, 10_000), "the cap refused the loop");
    client.destroy();
    const idle = () => a.sluice.collector.total.active === 0 && b.sluice.collector.total.active === 0;
    assert.ok(await waitFor(idle, 10_000), "the chain unwinds");
    const total = listenerOf(a.sluice).connections + listenerOf(b.sluice).connections;
    assert.ok(total <= 2 * 20 + 2, `${total} connections in all`);
  });

  test("a backend that resets as it accepts is an upstream_error, never an ejection, on every runtime", async () => {
    const b = await backend((socket) => socket.resetAndDestroy());
    const { sluice, port, events } = await proxy([b.port], { max_fails: 1 });
    for (let i = 0; i < 10; i++) {
      const client = await connect(port);
      const ended = howEnded(client);
      client.end("ping");
      await ended;
      client.destroy();
    }
    assert.ok(await waitFor(() => sluice.collector.total.active === 0));
    const closes = events("conn.close");
    assert.deepEqual([...new Set(closes.map((e) => e.reason))], ["upstream_error"]);
    const stats = backendOf(sluice, b.port);
    assert.deepEqual([stats.connections, stats.connectErrors.reset, stats.ejections], [10, 0, 0]);
    assert.equal(listenerOf(sluice).rejected.no_backend, 0);
  });

  test("shutdown stops accepting, lets a live connection finish, then resolves", async () => {
    const b = await backend(echo);
    const { sluice, port } = await proxy([b.port], {}, { drain_timeout: "10s" });
    sluices.pop(); // this test shuts it down itself
    const client = await connect(port);
    const reply = readAll(client);
    client.write("one ");
    await waitFor(() => sluice.collector.total.active === 1 && b.sockets.size === 1);
    const stopping = sluice.shutdown();
    await delay(50);
    await assert.rejects(connect(port));
    client.end("two");
    assert.equal((await reply).toString(), "one two");
    assert.deepEqual(await stopping, { drained: 1, aborted: 0 });
  });

  test("conn.close log lines carry client, listener, backend, bytes, duration and reason", async () => {
    const b = await backend(echo);
    const { port, events } = await proxy([b.port]);
    assert.equal(await exchange(port, "12345"), "12345");
    assert.ok(await waitFor(() => events("conn.close").length === 1));
    const line = events("conn.close")[0];
    assert.equal(line.listener, "test");
    assert.equal(line.backend, `127.0.0.1:${b.port}`);
    assert.match(String(line.client), /^127\.0\.0\.1:\d+$/);
    assert.equal(line.bytes_in, 5);
    assert.equal(line.bytes_out, 5);
    assert.equal(typeof line.duration_ms, "number");
    assert.equal(line.reason, "client_closed");
    assert.equal(events("conn.open").length, 1);
  });

  test("a live connection's bytes show in /api/v1/connections while it is still open", async () => {
    const b = await backend(echo);
    const { sluice, port } = await proxy([b.port]);
    const client = await connect(port);
    const echoed = new Promise<void>((resolve) => {
      let got = 0;
      client.on("data", (chunk: Buffer) => (got += chunk.length) >= 5 && resolve());
    });
    client.write("hello");
    await echoed;
    const admin = `http://127.0.0.1:${sluice.adminAddress!.port}`;
    const { live_total, live } = await (await fetch(`${admin}/api/v1/connections`)).json();
    assert.equal(live_total, 1);
    assert.equal(live[0].state, "relaying");
    assert.equal(live[0].received_bytes, 5);
    assert.equal(live[0].sent_bytes, 5);
    client.end();
    await closed(client);
  });

  test("the admin API and /metrics show the traffic; bad requests get JSON errors", async () => {
    const b = await backend(echo);
    const { sluice, port } = await proxy([b.port]);
    assert.equal(await exchange(port, "hello"), "hello");
    await waitFor(() => sluice.collector.total.active === 0);
    const admin = `http://127.0.0.1:${sluice.adminAddress!.port}`;
    const stats = await (await fetch(`${admin}/api/v1/stats`)).json();
    assert.equal(stats.listeners[0].name, "test");
    assert.equal(stats.listeners[0].connections_total, 1);
    assert.equal(stats.listeners[0].received_bytes_total, 5);
    assert.equal(stats.listeners[0].backends[0].state, "up");
    const connections = await (await fetch(`${admin}/api/v1/connections?limit=5`)).json();
    assert.equal(connections.live_total, 0);
    assert.equal(connections.recent[0].close_reason, "client_closed");
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    assert.match(metrics, /^sluice_listener_connections_total\{listener="test"\} 1$/m);
    assert.match(metrics, /^sluice_listener_received_bytes_total\{listener="test"\} 5$/m);
    assert.match(metrics, new RegExp(`^sluice_upstream_up\\{listener="test",backend="127.0.0.1:${b.port}"\\} 1$`, "m"));
    assert.match(metrics, /^sluice_build_info\{version="[^"]+",runtime="\w+",runtime_version="[^"]+"\} 1$/m);
    // As Prometheus reads it: its own parser and linter (promtool) accept the whole exposition.
    const check = await promtool(metrics);
    assert.equal(check.code, 0, check.output);
    const bucket = (le: string) =>
      Number(
        metrics.match(
          new RegExp(
            `^sluice_listener_connect_duration_seconds_bucket\\{listener="test",le="${
              le.replace("+", "\\+")
            }"\\} (\\S+)$`,
            "m",
          ),
        )?.[1],
      );
    assert.equal(bucket("+Inf"), 1, "one connect timed");
    assert.ok(bucket("0.0005") <= bucket("0.005") && bucket("0.005") <= bucket("5"), "buckets are cumulative");
    assert.match(metrics, /^sluice_listener_connection_duration_seconds_count\{listener="test"\} 1$/m);
    const bad = await fetch(`${admin}/api/v1/connections?limit=lots`);
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /limit must be a whole number/);
    const missing = await fetch(`${admin}/api/v1/nope`);
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error, /no such endpoint/);
  });

  test("anonymize_ips masks clients in the API and logs, while filters still match the real address", async () => {
    const b = await backend(echo);
    const { sluice, port, events } = await proxy([b.port], {}, { anonymize_ips: true });
    assert.equal(await exchange(port, "hi"), "hi");
    await waitFor(() => sluice.collector.total.active === 0);
    const admin = `http://127.0.0.1:${sluice.adminAddress!.port}`;
    const table = await (await fetch(`${admin}/api/v1/connections?source=127.0.0.1`)).json();
    assert.match(table.recent[0].client, /^127\.0\.0\.0:\d+$/);
    assert.match(String(events("conn.close")[0].client), /^127\.0\.0\.0:\d+$/);
  });

  test("/api/v1/traffic gives chart-shaped history; wrong method, repeated or bad parameters get 4xx with a reason", async () => {
    const b = await backend(echo);
    const { sluice, port } = await proxy([b.port]);
    assert.equal(await exchange(port, "hello"), "hello");
    await waitFor(() => sluice.collector.total.active === 0);
    sluice.collector.tick(); // one second's point now, rather than waiting for the timer
    const admin = `http://127.0.0.1:${sluice.adminAddress!.port}`;
    const traffic = await (await fetch(`${admin}/api/v1/traffic?window=5m`)).json();
    assert.deepEqual(traffic.series.map((s: { scope: string }) => s.scope), ["total", "listener", "backend"]);
    const total = traffic.series[0];
    assert.equal(total.step_seconds, 1);
    assert.equal(total.timestamps.length, total.received_bytes_per_second.length);
    assert.equal(total.timestamps.at(-1), Math.floor(Date.parse(traffic.end) / 1000));
    const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
    assert.equal(sum(total.received_bytes_per_second), 5, "the 5 bytes are in the history");
    assert.equal(sum(total.connections_per_second), 1);
    const one = await (await fetch(`${admin}/api/v1/traffic?listener=test&backend=127.0.0.1:${b.port}`)).json();
    assert.deepEqual(one.series.map((s: { scope: string }) => s.scope), ["backend"]);
    const day = await (await fetch(`${admin}/api/v1/traffic?window=24h`)).json();
    assert.equal(day.series[2].step_seconds, 300, "backends keep 5-minute points for the day");
    const csv = await fetch(`${admin}/api/v1/stats?format=csv`);
    assert.match(csv.headers.get("content-type")!, /^text\/csv/);
    const rows = (await csv.text()).trimEnd().split("\r\n").map((r) => r.split(","));
    assert.deepEqual(rows[0].slice(0, 6), ["type", "listener", "backend", "protocol", "state", "connections_total"]);
    assert.deepEqual(rows[1].slice(0, 6), ["listener", "test", "", "tcp", "", "1"]);
    assert.deepEqual(rows[2].slice(0, 6), ["backend", "test", `127.0.0.1:${b.port}`, "tcp", "up", "1"]);
    assert.ok(rows.every((r) => r.length === rows[0].length), "every row has every column");
    const none = await (await fetch(`${admin}/api/v1/connections?source=10.0.0.0/8&state=closed`)).json();
    assert.deepEqual([none.live_total, none.matched, none.recent.length], [0, 0, 0]);
    const mine = await (await fetch(`${admin}/api/v1/connections/recent?source=127.0.0.0/8&protocol=tcp`)).json();
    assert.equal(mine.recent[0].close_reason, "client_closed");
    assert.equal(mine.recent[0].protocol, "tcp");
    const checks: [string, RequestInit, number, RegExp][] = [
      ["/api/v1/connections?source=10.0.0/8", {}, 400, /source: expected an IP address or CIDR block/],
      ["/api/v1/connections?sort=size", {}, 400, /sort must be one of bytes, duration/],
      ["/api/v1/connections?sauce=1", {}, 400, /unknown query parameter "sauce"/],
      ["/api/v1/traffic?window=2d", {}, 400, /window must be one of 5m, 1h, 24h/],
      ["/api/v1/stats?format=xml", {}, 400, /format must be json or csv/],
      ["/api/v1/traffic?listener=nope", {}, 404, /no listener "nope"/],
      ["/api/v1/connections?limit=1&limit=2", {}, 400, /"limit" is given 2 times/],
      ["/api/v1/stats", { method: "POST" }, 405, /POST is not allowed on \/api\/v1\/stats/],
    ];
    for (const [path, init, status, error] of checks) {
      const response = await fetch(`${admin}${path}`, init);
      assert.equal(response.status, status, path);
      assert.match((await response.json()).error, error);
      if (status === 405) assert.equal(response.headers.get("allow"), "GET, HEAD");
    }
  });
});

describe(`workers on ${runtime.name}`, () => {
  test(
    runtime.net.supportsReusePort
      ? "workers = 2 runs two threads on one port and adds up their counts"
      : "workers = 2 warns that this runtime cannot share a port and still serves",
    async () => {
      const b = await backend(replyAfterRequest("ok"));
      const { sluice, port, events } = await proxy([b.port], {}, { workers: 2 });
      for (let i = 0; i < 40; i++) assert.equal(await exchange(port), "ok");
      const admin = `http://127.0.0.1:${sluice.adminAddress!.port}`;
      assert.ok(
        await waitFor(() => {
          sluice.collector.gather();
          return listenerOf(sluice).connections === 40 && sluice.collector.total.active === 0;
        }),
      );
      assert.equal(backendOf(sluice, b.port).connections, 40);
      const { recent } = await (await fetch(`${admin}/api/v1/connections?limit=40`)).json();
      assert.equal(recent.length, 40);
      assert.equal(
        new Set(recent.map((c: { id: number }) => c.id)).size,
        40,
        "connection ids are unique across threads",
      );
      if (runtime.net.supportsReusePort) {
        const workersUsed = new Set(recent.map((c: { id: number }) => (c.id - 1) % 2));
        assert.equal(workersUsed.size, 2, "the kernel spread connections over both threads");
      } else {
        assert.equal(events("workers.unsupported").length, 1);
      }
    },
  );

  test("workers = 2 where the runtime cannot share a port warns and serves on this thread", async () => {
    // Every runtime of the suite shares ports on Linux, so the fallback (Node before 22.12, macOS) is asked for.
    const alone: Runtime = { ...runtime, net: { ...runtime.net, supportsReusePort: false } };
    const b = await backend(replyAfterRequest("ok"));
    const { sluice, port, events } = await proxy([b.port], {}, { workers: 2 }, alone);
    for (let i = 0; i < 5; i++) assert.equal(await exchange(port, "hi"), "ok");
    assert.deepEqual(events("workers.unsupported").map((e) => e.workers), [2]);
    assert.equal(events("workers.start").length, 0);
    sluice.collector.gather();
    assert.equal(listenerOf(sluice).connections, 5);
  });
});
