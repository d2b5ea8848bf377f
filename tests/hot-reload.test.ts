/**
 * Hot reload end to end over real loopback sockets: a changed pool, a new
 * and a removed listener, a removed backend whose connection drains, a
 * failed bind and an invalid document that change nothing, the file watch,
 * and the proof under load: 100 reloads while connections stream and a long
 * transfer runs, with none refused and no byte lost. With `workers = 2` where
 * the runtime has workers.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import type * as net from "node:net";
import { type Sluice, startSluice } from "../src/compose.ts";
import { loadObject, parseTomlDocument } from "../src/config/load.ts";
import { selectRuntime } from "../src/runtime/select.ts";
import { cleanupAfter } from "./helpers/cleanup.ts";
import { memoryLog } from "./helpers/log.ts";
import { connect, delay, exchange, freePort, readAll, waitFor } from "./helpers/net.ts";
import { startSluice as spawnSluice, tempFile } from "./helpers/spawn.ts";
import { startUdpServer, udpClient } from "./helpers/udp.ts";

const runtime = selectRuntime();
const { cleanups, server } = cleanupAfter();

/** A backend that answers its name to any request. */
const named = (name: string) => (socket: net.Socket) => void readAll(socket).then(() => socket.end(name), () => {});

/** A backend that answers the SHA-256 and length of everything it received. */
const digest = (socket: net.Socket) => {
  const hash = createHash("sha256");
  let bytes = 0;
  socket.on("data", (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  socket.on("end", () => socket.end(`${bytes} ${hash.digest("hex")}`));
};

type Doc = Record<string, unknown>;
const backend = (port: number, weight = 1) => ({ address: `127.0.0.1:${port}`, weight });

async function start(document: Doc, options: { file?: string; watch?: boolean; text?: string } = {}) {
  const loaded = loadObject(document);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const memory = memoryLog();
  const sluice = await startSluice(runtime, loaded.config, {
    log: memory.log,
    document,
    file: options.file,
    fileText: options.text,
    watch: options.watch,
  });
  cleanups.push(() => sluice.shutdown());
  return { sluice, ...memory };
}

const portOf = (sluice: Sluice, name: string) => sluice.listeners().find((l) => l.name === name)!.address.port;

/** The names answering `count` requests in a row. */
async function answers(port: number, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(await exchange(port, "x"));
  return out;
}

const workerCases = [1, 2] as const;

for (const workers of workerCases) {
  const threads = workers > 1 && runtime.net.supportsReusePort ? "workers = 2" : "one thread";
  if (workers > 1 && !runtime.net.supportsReusePort) {
    test(`hot reload with workers = 2: ${runtime.name} has no SO_REUSEPORT, covered by the one-thread cases`, () => {});
    continue;
  }

  describe(`hot reload (${threads})`, () => {
    test("a changed pool, an added and a removed listener take effect; the kept listener keeps its port", async () => {
      const [a, b] = [await server(named("a")), await server(named("b"))];
      const base: Doc = {
        admin: { enabled: false },
        drain_timeout: "1s",
        workers,
        listeners: [{ name: "web", listen: "127.0.0.1:0", balance: "round-robin", backends: [backend(a.port)] }],
      };
      const { sluice } = await start(base);
      const port = portOf(sluice, "web");
      assert.deepEqual(new Set(await answers(port, 4)), new Set(["a"]));

      const next: Doc = {
        ...base,
        listeners: [
          { name: "web", listen: "127.0.0.1:0", balance: "round-robin", backends: [backend(a.port), backend(b.port)] },
          { name: "extra", listen: "127.0.0.1:0", backends: [backend(b.port)] },
        ],
      };
      const outcome = await sluice.reloader.applyDocument(next, "api", false);
      assert.equal(outcome.ok, true, outcome.error);
      assert.deepEqual(outcome.changes?.added, ["tcp/127.0.0.1:0#extra"]);
      assert.deepEqual(outcome.changes?.updated, ["tcp/127.0.0.1:0#web"]);
      assert.equal(portOf(sluice, "web"), port, "the kept listener keeps its socket");
      assert.deepEqual(new Set(await answers(port, 6)), new Set(["a", "b"]));
      const extra = portOf(sluice, "extra");
      assert.deepEqual(await answers(extra, 2), ["b", "b"]);

      // Back: the extra listener is removed and stops accepting.
      assert.equal((await sluice.reloader.applyDocument(base, "api", false)).ok, true);
      assert.equal(sluice.listeners().length, 1);
      await assert.rejects(exchange(extra, "x"));
      assert.deepEqual(new Set(await answers(port, 4)), new Set(["a"]));
      assert.equal(sluice.reloader.counts.success, 2);
    });

    test("a removed backend's live connection drains instead of being cut", async () => {
      const [a, sink] = [await server(named("a")), await server(digest)];
      const base: Doc = {
        admin: { enabled: false },
        drain_timeout: "1s",
        workers,
        listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(sink.port)] }],
      };
      const { sluice } = await start(base);
      const client = await connect(portOf(sluice, "web"));
      const reply = readAll(client);
      const first = randomBytes(100_000);
      client.write(first);
      await waitFor(() => sink.sockets.size === 1);
      const outcome = await sluice.reloader.applyDocument(
        { ...base, listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(a.port)] }] },
        "api",
        false,
      );
      assert.equal(outcome.ok, true, outcome.error);
      const second = randomBytes(100_000);
      client.end(second);
      const expected = createHash("sha256").update(first).update(second).digest("hex");
      assert.equal((await reply).toString(), `200000 ${expected}`);
      assert.deepEqual(await answers(portOf(sluice, "web"), 2), ["a", "a"]);
    });

    test("a new listener that cannot bind changes nothing, and is counted as an error", async () => {
      const [a, b] = [await server(named("a")), await server(named("b"))];
      const taken = await server(() => {});
      const base: Doc = {
        admin: { enabled: false },
        workers,
        listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(a.port)] }],
      };
      const { sluice, events } = await start(base);
      const port = portOf(sluice, "web");
      const before = sluice.listeners();
      const outcome = await sluice.reloader.applyDocument(
        {
          ...base,
          listeners: [
            { name: "web", listen: "127.0.0.1:0", backends: [backend(a.port), backend(b.port)] },
            { name: "other", listen: "127.0.0.1:0", backends: [backend(a.port)] },
            { name: "clash", listen: `127.0.0.1:${taken.port}`, backends: [backend(a.port)] },
          ],
        },
        "api",
        false,
      );
      assert.equal(outcome.ok, false);
      assert.equal(outcome.status, 409);
      assert.match(outcome.error!, /in use/);
      assert.deepEqual(sluice.listeners(), before, "no listener added, none removed");
      assert.equal(sluice.config.listeners[0].backends.length, 1, "the pool is unchanged");
      assert.deepEqual(await answers(port, 3), ["a", "a", "a"]);
      assert.equal(sluice.reloader.counts.error, 1);
      assert.equal(sluice.reloader.counts.lastOk, false, "sluice_config_last_reload_successful reads 0");
      assert.ok(events("config.reload").some((l) => l.result === "error"));
      assert.equal((await sluice.reloader.applyDocument(base, "api", false)).ok, true);
      assert.equal(sluice.reloader.counts.lastOk, true, "and 1 again after a reload that succeeds");
    });

    test("an invalid document is refused with its key path; the old config keeps running", async () => {
      const a = await server(named("a"));
      const base: Doc = {
        admin: { enabled: false },
        workers,
        listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(a.port)] }],
      };
      const { sluice } = await start(base);
      const outcome = await sluice.reloader.applyDocument(
        {
          ...base,
          listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [{ address: "127.0.0.1:1", weight: -3 }] }],
        },
        "api",
        false,
      );
      assert.equal(outcome.status, 400);
      assert.equal(outcome.issues?.[0].path, "listeners[0].backends[0].weight");
      assert.deepEqual(await answers(portOf(sluice, "web"), 2), ["a", "a"]);
    });

    test("a UDP listener added and removed at run time", async () => {
      const a = await server(named("a"));
      const echo = await startUdpServer((data) => Buffer.concat([Buffer.from("echo "), data]));
      cleanups.push(() => echo.close());
      const base: Doc = {
        admin: { enabled: false },
        // An idle UDP session holds the drain open until this runs out; the default 30 s would slow the suite.
        drain_timeout: "1s",
        workers,
        listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(a.port)] }],
      };
      const { sluice } = await start(base);
      const withUdp = {
        ...base,
        listeners: [
          ...(base.listeners as Doc[]),
          { name: "dns", protocol: "udp", listen: "127.0.0.1:0", backends: [backend(echo.port)] },
        ],
      };
      const outcome = await sluice.reloader.applyDocument(withUdp, "api", false);
      assert.equal(outcome.ok, true, outcome.error);
      const client = await udpClient(portOf(sluice, "dns"));
      cleanups.push(() => client.close());
      assert.equal((await client.ask("hi"))?.toString(), "echo hi");
      assert.equal((await sluice.reloader.applyDocument(base, "api", false)).ok, true);
      assert.equal(sluice.listeners().length, 1);
      assert.deepEqual(await answers(portOf(sluice, "web"), 1), ["a"]);
    });
  });
}

test("SIGHUP through the real CLI re-reads the file; a broken file is refused and logged", async () => {
  const [a, b] = [await server(named("a")), await server(named("b"))];
  const port = await freePort();
  const toml = (backendPort: number) =>
    `[admin]\nenabled = false\n\n[[listeners]]\nname = "web"\nlisten = "127.0.0.1:${port}"\n` +
    `backends = [{ address = "127.0.0.1:${backendPort}" }]\n`;
  const path = tempFile("sluice.toml", toml(a.port));
  const proc = spawnSluice(["-c", path, "--no-watch"]);
  cleanups.push(() => proc.kill("SIGKILL"));
  await proc.waitForLog(/listener\.start/);
  assert.equal(await exchange(port, "x"), "a");
  writeFileSync(path, toml(b.port));
  await delay(300);
  assert.equal(await exchange(port, "x"), "a", "--no-watch: a changed file alone changes nothing");
  proc.kill("SIGHUP");
  await proc.waitForLog(/config\.reload source=signal result=ok/);
  assert.equal(await exchange(port, "x"), "b");
  writeFileSync(path, "[[listeners]\n");
  proc.kill("SIGHUP");
  await proc.waitForLog(/config\.reload source=signal result=error/);
  assert.equal(await exchange(port, "x"), "b", "the old config runs on");
  proc.kill("SIGTERM");
  assert.equal(await proc.exited, 0);
});

test("a reload under way when shutdown starts finishes first; none starts after; its listener drains too", async () => {
  const a = await server(named("a"));
  const base: Doc = {
    admin: { enabled: false },
    listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(a.port)] }],
  };
  const { sluice } = await start(base);
  const adding = sluice.reloader.applyDocument(
    {
      ...base,
      listeners: [...(base.listeners as Doc[]), { name: "late", listen: "127.0.0.1:0", backends: [backend(a.port)] }],
    },
    "api",
    false,
  );
  await delay(0); // the reload is under way (or done), not merely queued
  const stopping = sluice.shutdown();
  const outcome = await adding;
  const late = sluice.listeners().find((l) => l.name === "late")?.address.port;
  await stopping;
  // Either the reload finished before the drain (and its listener drained with the rest) or it was refused.
  if (outcome.ok) await assert.rejects(exchange(late!, "x"), "the listener added during shutdown is closed too");
  else assert.equal(outcome.status, 503);
  const after = await sluice.reloader.applyDocument(base, "api", false);
  assert.equal(after.status, 503);
});

test("turning health checks off brings a backend they had marked down back", async () => {
  const a = await server(named("a"));
  const dead = await freePort();
  const listener = {
    name: "web",
    listen: "127.0.0.1:0",
    balance: "round-robin",
    backends: [backend(a.port), backend(dead)],
  };
  const base: Doc = { admin: { enabled: false }, listeners: [listener] };
  const { sluice } = await start({
    ...base,
    listeners: [{ ...listener, health: { interval: "100ms", timeout: "100ms", fall: 1, rise: 1 } }],
  });
  const state = () => sluice.states.find(sluice.config.listeners[0].key, `127.0.0.1:${dead}`)?.health;
  assert.ok(await waitFor(() => state() === "down"), "the check marked the dead backend down");
  assert.equal((await sluice.reloader.applyDocument(base, "api", false)).ok, true);
  assert.equal(state(), "up");
});

test("deleting one of two unnamed port-0 listeners is refused: it would renumber the other", async () => {
  const a = await server(named("a"));
  const unnamed = { listen: "127.0.0.1:0", backends: [backend(a.port)] };
  const { sluice } = await start({ admin: { enabled: false }, listeners: [unnamed, unnamed] });
  const { removeListener } = await import("../src/control/edits.ts");
  const outcome = await sluice.reloader.edit((doc, config) => removeListener(doc, config, "listener0"), false);
  assert.equal(outcome.status, 400);
  assert.match(outcome.error!, /name them/);
  const last = await sluice.reloader.edit((doc, config) => removeListener(doc, config, "listener1"), false);
  assert.equal(last.ok, true, last.error);
});

describe("reload from the file", () => {
  test("a changed file is picked up by the watch; a write with no change is not a reload", async () => {
    const [a, b] = [await server(named("a")), await server(named("b"))];
    const dir = mkdtempSync(`${tmpdir()}/sluice-reload-`);
    const path = `${dir}/sluice.toml`;
    const toml = (port: number) =>
      `[admin]\nenabled = false\n\n[[listeners]]\nname = "web"\nlisten = "127.0.0.1:0"\n` +
      `backends = [{ address = "127.0.0.1:${port}" }]\n`;
    writeFileSync(path, toml(a.port));
    const parsed = parseTomlDocument(toml(a.port));
    assert.ok(parsed.ok);
    const { sluice } = await start(parsed.document, { file: path, watch: true, text: toml(a.port) });
    const port = portOf(sluice, "web");
    assert.deepEqual(await answers(port, 2), ["a", "a"]);

    writeFileSync(path, toml(b.port));
    assert.ok(await waitFor(() => sluice.reloader.counts.success === 1, 5000), "the watch reloaded the file");
    assert.deepEqual(await answers(port, 2), ["b", "b"]);
    assert.equal(sluice.reloader.last?.source, "file");
    // What runs is what the file says: /api/v1/stats must not warn that a reload from the file undoes it.
    assert.equal(sluice.reloader.last?.persisted, true);
    assert.equal(sluice.reloader.last?.note, undefined);

    // The same text again (an editor saving without changes): no reload.
    writeFileSync(path, toml(b.port));
    await delay(500);
    assert.equal(sluice.reloader.counts.success, 1);

    // A broken file: refused, the old config runs on.
    writeFileSync(path, "[[listeners]\n");
    assert.ok(await waitFor(() => sluice.reloader.counts.error === 1, 5000));
    assert.match(sluice.reloader.last!.error!, /line 1/);
    assert.deepEqual(await answers(port, 1), ["b"]);
    assert.equal(readFileSync(path, "utf8"), "[[listeners]\n", "a refused file is left as it is");
  });
});

for (const workers of workerCases) {
  if (workers > 1 && !runtime.net.supportsReusePort) continue;
  test(`under load (${workers === 1 ? "one thread" : "workers = 2"}): 100 reloads, no connection refused, no byte lost`, async () => {
    const servers = [await server(named("a")), await server(named("b")), await server(named("c"))];
    const sink = await server(digest);
    const pools = [
      [backend(servers[0].port), backend(sink.port)],
      [backend(servers[0].port, 3), backend(servers[1].port), backend(sink.port)],
      [backend(servers[0].port), backend(servers[2].port, 2), backend(sink.port)],
      [backend(servers[0].port, 2), backend(servers[1].port, 2), backend(servers[2].port), backend(sink.port)],
    ];
    const documentFor = (i: number): Doc => ({
      admin: { enabled: false },
      drain_timeout: "2s",
      workers,
      listeners: [
        // The stream's listener: its pool changes every time, round robin keeps every member busy.
        { name: "stream", listen: "127.0.0.1:0", balance: "least-conn", backends: pools[i % pools.length] },
        // The long transfer's listener: one backend, kept.
        { name: "bulk", listen: "127.0.0.1:0", backends: [backend(sink.port)] },
      ],
    });
    const { sluice } = await start(documentFor(0));
    const stream = portOf(sluice, "stream");
    const bulk = portOf(sluice, "bulk");

    // One long transfer with a checksum, through every reload.
    const client = await connect(bulk);
    const reply = readAll(client);
    const sent = createHash("sha256");
    let sentBytes = 0;
    let reloading = true;
    const transfer = (async () => {
      for (let i = 0; i < 10_000 && reloading; i++) {
        const chunk = randomBytes(16_384);
        sent.update(chunk);
        sentBytes += chunk.length;
        if (!client.write(chunk)) await new Promise((resolve) => client.once("drain", resolve));
        await delay(2);
      }
      client.end();
    })();

    // A steady stream of short connections, four at a time.
    let ok = 0;
    const failures: string[] = [];
    const streamer = async () => {
      for (let i = 0; i < 100_000 && reloading; i++) {
        try {
          const answer = await exchange(stream, "x");
          if (answer === "") failures.push("empty answer");
          else ok++;
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const streams = Array.from({ length: 4 }, streamer);

    for (let i = 1; i <= 100; i++) {
      const outcome = await sluice.reloader.applyDocument(documentFor(i), "api", false);
      assert.equal(outcome.ok, true, outcome.error);
      await delay(5);
    }
    reloading = false;
    await Promise.all(streams);
    await transfer;
    assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} connections failed`);
    assert.ok(ok > 100, `a steady stream ran (${ok} connections)`);
    assert.equal((await reply).toString(), `${sentBytes} ${sent.digest("hex")}`);
    assert.equal(sluice.reloader.counts.success, 100);
  });
}
