/**
 * The admin API's mutations over real HTTP and real loopback sockets: drain,
 * disable, enable and weight a backend; add and delete listeners; close a
 * connection; read, replace, reload, back up and restore the configuration;
 * reset stats; top clients; /healthz while draining; and the bad inputs of
 * each (400 with key paths, 404, 405 with Allow, 409, 413). With
 * `workers = 2` where the runtime has workers.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import type * as net from "node:net";
import { type Sluice, startSluice } from "../src/compose.ts";
import { loadObject, parseTomlDocument } from "../src/config/load.ts";
import { formatAddress } from "../src/net/address.ts";
import { selectRuntime } from "../src/runtime/select.ts";
import { cleanupAfter } from "./helpers/cleanup.ts";
import { memoryLog } from "./helpers/log.ts";
import { promtool } from "./helpers/prometheus.ts";
import { connect, delay, ended, exchange, readAll, waitFor, waitForAsync } from "./helpers/net.ts";

const runtime = selectRuntime();
const { cleanups, server } = cleanupAfter();

const named = (name: string) => (socket: net.Socket) => void readAll(socket).then(() => socket.end(name), () => {});
/** A backend that answers nothing and holds each connection open until its client ends it. */
const hold = (socket: net.Socket) => void socket.on("end", () => socket.end()).resume();

type Doc = Record<string, unknown>;
const backend = (port: number, name?: string) => ({ address: `127.0.0.1:${port}`, ...(name ? { name } : {}) });

interface Started {
  sluice: Sluice;
  events: (event: string) => Record<string, unknown>[];
  /** Calls the admin API; JSON bodies are sent as JSON. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

async function start(document: Doc, options: { file?: string; text?: string } = {}): Promise<Started> {
  const full = { admin: { listen: "127.0.0.1:0" }, drain_timeout: "2s", ...document };
  const loaded = loadObject(full);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const memory = memoryLog();
  const sluice = await startSluice(runtime, loaded.config, {
    log: memory.log,
    document: full,
    file: options.file,
    fileText: options.text,
  });
  cleanups.push(() => sluice.shutdown());
  const base = `http://${formatAddress(sluice.adminAddress!)}`;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(base + path, {
      method,
      headers: {
        ...(body !== undefined && typeof body !== "string" ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  return { sluice, events: memory.events, call };
}

/** Sends `request` to the admin server on a raw socket; the answer's status. */
async function rawStatus(sluice: Sluice, request: string): Promise<number> {
  const socket = await connect(sluice.adminAddress!.port);
  socket.write(request);
  const head = await new Promise<string>((resolve) => {
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes("\r\n")) resolve(text);
    });
    socket.on("close", () => resolve(text));
  });
  socket.destroy();
  return Number(head.split(" ")[1]);
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return await response.json() as Record<string, unknown>;
}

const portOf = (sluice: Sluice, name: string) => sluice.listeners().find((l) => l.name === name)!.address.port;

/** A backend's state as `/api/v1/stats` shows it. */
async function stateOf(s: Started, listener: string, backend: string): Promise<string> {
  const stats = await json(await s.call("GET", "/api/v1/stats"));
  const l = (stats.listeners as { name: string; backends: { name: string; state: string }[] }[])
    .find((x) => x.name === listener)!;
  return l.backends.find((b) => b.name === backend)!.state;
}

for (const workers of [1, 2]) {
  if (workers > 1 && !runtime.net.supportsReusePort) continue;
  const threads = workers > 1 ? "workers = 2" : "one thread";

  describe(`admin control (${threads})`, () => {
    test("drain keeps live connections and sends no new ones; enable brings the backend back; disable", async () => {
      const [a, b] = [await server(hold), await server(named("b"))];
      const s = await start({
        workers,
        listeners: [{
          name: "web",
          listen: "127.0.0.1:0",
          balance: "round-robin",
          backends: [backend(a.port, "a"), backend(b.port, "b")],
        }],
      });
      const port = portOf(s.sluice, "web");
      // Round robin (per thread) puts the first connection of each thread on a.
      const clients = [await connect(port), await connect(port)];
      assert.ok(await waitFor(() => a.sockets.size + b.sockets.size === 2), "both connections reached a backend");
      assert.ok(a.sockets.size >= 1, "a connection reached a");
      const held = a.sockets.size;

      const drained = await s.call("POST", "/api/v1/listeners/web/backends/a/drain");
      assert.equal(drained.status, 200);
      assert.deepEqual(await json(drained), {
        ok: true,
        listener: "web",
        backend: "a",
        address: `127.0.0.1:${a.port}`,
        admin: "draining",
      });
      // Worker threads publish their counts every 250 ms: the main thread may still see a idle for a moment.
      assert.ok(await waitForAsync(async () => (await stateOf(s, "web", "a")) === "draining"));
      for (let i = 0; i < 4; i++) {
        assert.equal(await exchange(port, "x"), "b", "no new connection goes to a draining backend");
      }
      assert.equal(a.sockets.size, held, "the live connections are kept");
      // /metrics tells an operator's drain from a failed check: one state series is 1, the others 0.
      const metrics = await (await s.call("GET", "/metrics")).text();
      const states = [
        ...metrics.matchAll(/^sluice_upstream_state\{listener="web",backend="a",state="(\w+)"\} (\d)$/gm),
      ];
      assert.deepEqual(states.filter((m) => m[2] === "1").map((m) => m[1]), ["draining"]);
      assert.equal(states.length, 6, "a series per state");

      for (const client of clients) client.destroy();
      assert.ok(
        await waitForAsync(async () => (await stateOf(s, "web", "a")) === "drained"),
        "drained once its connections ended",
      );
      // A reload does not undrain it.
      const reload = await json(await s.call("POST", "/api/v1/listeners/web/backends/b/weight", { weight: 3 }));
      assert.equal(reload.ok, true, String(reload.error));
      assert.equal(await stateOf(s, "web", "a"), "drained");

      assert.equal((await s.call("POST", "/api/v1/listeners/web/backends/a/enable")).status, 200);
      assert.equal(await stateOf(s, "web", "a"), "up");
      assert.equal((await s.call("POST", `/api/v1/listeners/web/backends/127.0.0.1:${b.port}/disable`)).status, 200);
      assert.equal(await stateOf(s, "web", "b"), "disabled");
      const c = await connect(port);
      assert.ok(await waitFor(() => a.sockets.size >= 1), "with b disabled, a takes the connection");
      c.destroy();
      const actions = s.events("admin.action");
      assert.ok(actions.length >= 4, "every mutation is logged");
    });

    test("DELETE a connection closes both sides with reason admin; unknown and malformed ids", async () => {
      const a = await server(hold);
      const s = await start({
        workers,
        listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(a.port)] }],
      });
      const client = await connect(portOf(s.sluice, "web"));
      // The proxy closes both sides: a FIN or a reset, depending on the runtime.
      const closed = ended(client);
      assert.ok(await waitFor(() => a.sockets.size === 1));
      const upstream = [...a.sockets][0];
      const upstreamClosed = ended(upstream);
      const live = (await json(await s.call("GET", "/api/v1/connections"))).live as { id: number }[];
      assert.equal(live.length, 1);
      const response = await s.call("DELETE", `/api/v1/connections/${live[0].id}`);

      assert.deepEqual(await json(response), { ok: true, id: live[0].id, reason: "admin" });
      await closed;
      await upstreamClosed;
      const recent = async () =>
        (await json(await s.call("GET", "/api/v1/connections/recent"))).recent as {
          id: number;
          close_reason: string;
        }[];
      assert.ok(
        await waitForAsync(async () => (await recent()).some((r) => r.id === live[0].id && r.close_reason === "admin")),
      );
      assert.equal((await s.call("DELETE", "/api/v1/connections/999999")).status, 404);
      assert.equal((await s.call("DELETE", "/api/v1/connections/abc")).status, 400);
    });

    test("listeners added and deleted at run time; a bind error is the answer and changes nothing", async () => {
      const a = await server(named("a"));
      const taken = await server(hold);
      const s = await start({
        workers,
        listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(a.port)] }],
      });
      const added = await s.call("POST", "/api/v1/listeners", {
        listener: { name: "extra", listen: "127.0.0.1:0", backends: [backend(a.port)] },
      });
      const body = await json(added);
      assert.equal(added.status, 200, String(body.error));
      assert.match(String(body.note), /memory only/, "the answer says the change is not in any file");
      assert.equal(await exchange(portOf(s.sluice, "extra"), "x"), "a");
      const shown = (await json(await s.call("GET", "/api/v1/stats"))).listeners as {
        name: string;
        key: string;
        address: string;
      }[];
      assert.deepEqual(
        shown.find((l) => l.name === "extra"),
        {
          ...shown.find((l) => l.name === "extra"),
          key: "tcp/127.0.0.1:0#extra",
          address: `127.0.0.1:${portOf(s.sluice, "extra")}`,
        },
      );

      const clash = await s.call("POST", "/api/v1/listeners", {
        listener: { name: "clash", listen: `127.0.0.1:${taken.port}`, backends: [backend(a.port)] },
      });
      assert.equal(clash.status, 409);
      assert.match(String((await json(clash)).error), /in use/);
      assert.equal(s.sluice.listeners().length, 2);

      const invalid = await s.call("POST", "/api/v1/listeners", { listener: { listen: "127.0.0.1:0", backends: [] } });
      assert.equal(invalid.status, 400);
      assert.equal(((await json(invalid)).issues as { path: string }[])[0].path, "listeners[2].backends");

      const extra = portOf(s.sluice, "extra");
      assert.equal((await s.call("DELETE", "/api/v1/listeners/extra")).status, 200);
      await assert.rejects(exchange(extra, "x"));
      assert.equal((await s.call("DELETE", "/api/v1/listeners/extra")).status, 404);
      assert.equal((await s.call("DELETE", "/api/v1/listeners/web")).status, 400, "the last listener stays");
    });

    test("top clients by connections and bytes", async () => {
      const a = await server(named("a"));
      const s = await start({
        workers,
        listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(a.port)] }],
      });
      for (let i = 0; i < 5; i++) await exchange(portOf(s.sluice, "web"), "hello");
      const top = await json(await s.call("GET", "/api/v1/top?by=connections"));
      const minute = top.last_minute as { total: number; clients: { client: string; count: number; error: number }[] };
      assert.equal(minute.clients[0].client, "127.0.0.1");
      assert.equal(minute.clients[0].count, 5);
      assert.equal(minute.clients[0].error, 0);
      const bytes = await json(await s.call("GET", "/api/v1/top?by=bytes&limit=1"));
      const since = bytes.since_start as { clients: { count: number }[] };
      assert.ok(since.clients[0].count >= 5 * 6, "5 requests and 5 replies");
      assert.equal((await s.call("GET", "/api/v1/top?by=ports")).status, 400);
      assert.equal((await s.call("GET", "/api/v1/top?limit=0")).status, 400);
    });
  });
}

describe("configuration API", () => {
  test("GET as TOML or JSON with secrets redacted; a bad document is refused with its key path", async () => {
    const a = await server(named("a"));
    const s = await start({
      admin: { listen: "127.0.0.1:0", token: "a-token-of-sixteen-chars" },
      listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(a.port)] }],
    });
    const auth = { authorization: "Bearer a-token-of-sixteen-chars" };
    const toml = await s.call("GET", "/api/v1/config", undefined, auth);
    assert.equal(toml.status, 200);
    const text = await toml.text();
    assert.match(text, /token = "<redacted>"/);
    assert.ok(!text.includes("a-token-of-sixteen-chars"));
    assert.ok(parseTomlDocument(text).ok, "the TOML parses");
    const asJson = await json(
      await s.call("GET", "/api/v1/config", undefined, { ...auth, accept: "application/json" }),
    );
    assert.equal((asJson.admin as Doc).token, "<redacted>");

    // Posting back what was read keeps the secret (the redacted value is not taken literally).
    const back = await s.call("POST", "/api/v1/config", asJson, auth);
    assert.equal(back.status, 200, JSON.stringify(await back.clone().json()));
    assert.equal((await s.call("GET", "/api/v1/stats", undefined, auth)).status, 200, "the token still works");

    const bad = await s.call("POST", "/api/v1/config", {
      ...asJson,
      listeners: [{ listen: "127.0.0.1:0", backends: [{ address: "nowhere" }] }],
    }, auth);
    assert.equal(bad.status, 400);
    const issues = (await json(bad)).issues as { path: string }[];
    assert.equal(issues[0].path, "listeners[0].backends[0].address");
    assert.equal(await exchange(portOf(s.sluice, "web"), "x"), "a", "the old config runs on");

    assert.equal(
      (await s.call("POST", "/api/v1/config", "{not json", { ...auth, "content-type": "application/json" })).status,
      400,
    );
    assert.equal(
      (await s.call("POST", "/api/v1/config", "[[listeners]\n", { ...auth, "content-type": "application/toml" }))
        .status,
      400,
    );
    assert.equal((await s.call("POST", "/api/v1/config?persist=maybe", asJson, auth)).status, 400);
    const unknown = await s.call("POST", "/api/v1/listeners/web/backends/a/weight", { weight: 2, extra: 1 }, auth);
    assert.equal(unknown.status, 400);
    assert.equal(((await json(unknown)).issues as { path: string }[])[0].path, "extra");
    const wrongType = await s.call("POST", "/api/v1/listeners/web/backends/a/weight", { weight: "2" }, auth);
    assert.equal(((await json(wrongType)).issues as { path: string }[])[0].path, "weight");
    // Refused by its declared length, before it is read (a raw request: fetch may not read an answer sent early).
    const huge = await rawStatus(
      s.sluice,
      `POST /api/v1/config HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth.authorization}\r\n` +
        `Content-Type: application/json\r\nContent-Length: 1100000\r\n\r\n{`,
    );
    assert.equal(huge, 413);
    const wrongMethod = await s.call("PUT", "/api/v1/config", asJson, auth);
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "GET, HEAD, POST");
    assert.equal((await s.call("GET", "/api/v1/config/reload", undefined, auth)).status, 405);
    // No file: reload and persist say so.
    assert.equal((await s.call("POST", "/api/v1/config/reload", undefined, auth)).status, 409);
    assert.equal((await s.call("POST", "/api/v1/config?persist=true", asJson, auth)).status, 409);
  });

  test("persist keeps a backup; backups are listed; restore applies and writes one back; reload re-reads the file", async () => {
    const [a, b] = [await server(named("a")), await server(named("b"))];
    const dir = mkdtempSync(`${tmpdir()}/sluice-control-`);
    const path = `${dir}/sluice.toml`;
    const original =
      `# the original, with a comment\n[admin]\nlisten = "127.0.0.1:0"\n\n[[listeners]]\nname = "web"\n` +
      `listen = "127.0.0.1:0"\nbackends = [{ address = "127.0.0.1:${a.port}" }]\n`;
    writeFileSync(path, original);
    const parsed = parseTomlDocument(original);
    assert.ok(parsed.ok);
    const s = await start(parsed.document, { file: path, text: original });
    const port = portOf(s.sluice, "web");

    const persisted = await s.call("POST", "/api/v1/listeners/web/backends/0/weight?persist=true", { weight: 2 });
    assert.equal(persisted.status, 404, "backends are named by name or address, not position");
    const ok = await json(
      await s.call("POST", `/api/v1/listeners/web/backends/127.0.0.1:${a.port}/weight?persist=true`, { weight: 2 }),
    );
    assert.equal(ok.ok, true, String(ok.error));
    assert.equal(ok.persisted, true);
    assert.match(readFileSync(path, "utf8"), /weight = 2/);
    const backups = (await json(await s.call("GET", "/api/v1/config/backups"))).backups as {
      name: string;
      size: number;
      time: string;
    }[];
    assert.equal(backups.length, 1);
    assert.equal(backups[0].size, original.length);
    assert.ok(!Number.isNaN(Date.parse(backups[0].time)));

    // Edited by hand, re-read through the API.
    writeFileSync(path, original.replace(String(a.port), String(b.port)));
    const reloaded = await json(await s.call("POST", "/api/v1/config/reload"));
    assert.equal(reloaded.ok, true, String(reloaded.error));
    assert.equal(await exchange(port, "x"), "b");

    const restored = await json(await s.call("POST", "/api/v1/config/restore", { backup: backups[0].name }));
    assert.equal(restored.ok, true, String(restored.error));
    assert.equal(await exchange(port, "x"), "a");
    assert.equal(readFileSync(path, "utf8"), original, "the backup is written back as it was, comments and all");
    assert.equal((await s.call("POST", "/api/v1/config/restore", { backup: "../../etc/passwd" })).status, 404);
    assert.equal((await s.call("POST", "/api/v1/config/restore", { name: "x" })).status, 400);

    // An edit of the file not yet reloaded is not overwritten by a persist.
    writeFileSync(path, original + "# edited by hand\n");
    const conflict = await s.call("POST", `/api/v1/listeners/web/backends/127.0.0.1:${a.port}/weight?persist=true`, {
      weight: 4,
    });
    assert.equal(conflict.status, 409);
    assert.match(readFileSync(path, "utf8"), /edited by hand/);
    assert.equal(await exchange(port, "x"), "a", "nothing was applied either");

    const metrics = await (await s.call("GET", "/metrics")).text();
    assert.match(metrics, /sluice_config_reloads_total\{result="success"\} 3/);
    const checked = await promtool(metrics);
    assert.equal(checked.code, 0, checked.output);
  });

  test("a persisted file keeps its permissions and stays behind its symbolic link; backups are private", async () => {
    const a = await server(named("a"));
    const dir = mkdtempSync(`${tmpdir()}/sluice-perm-`);
    const real = `${dir}/real.toml`;
    const text =
      `[admin]\nlisten = "127.0.0.1:0"\ntoken = "a-token-of-sixteen-chars"\n\n[[listeners]]\nname = "web"\n` +
      `listen = "127.0.0.1:0"\nbackends = [{ address = "127.0.0.1:${a.port}" }]\n`;
    writeFileSync(real, text, { mode: 0o640 });
    chmodSync(real, 0o640);
    symlinkSync(real, `${dir}/sluice.toml`);
    const parsed = parseTomlDocument(text);
    assert.ok(parsed.ok);
    const s = await start(parsed.document, { file: `${dir}/sluice.toml`, text });
    const auth = { authorization: "Bearer a-token-of-sixteen-chars" };
    const ok = await json(
      await s.call(
        "POST",
        "/api/v1/listeners/web/backends/127.0.0.1:" + a.port + "/weight?persist=true",
        { weight: 2 },
        auth,
      ),
    );
    assert.equal(ok.ok, true, String(ok.error));
    assert.ok(lstatSync(`${dir}/sluice.toml`).isSymbolicLink(), "the link is kept");
    assert.match(readFileSync(real, "utf8"), /weight = 2/);
    assert.equal(statSync(real).mode & 0o777, 0o640);
    const backup = readdirSync(`${dir}/.sluice.toml.backups`)[0];
    assert.equal(statSync(`${dir}/.sluice.toml.backups/${backup}`).mode & 0o777, 0o600);
  });

  test("stats reset zeroes the API's counters, not /metrics", async () => {
    const a = await server(named("a"));
    const s = await start({ listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(a.port)] }] });
    for (let i = 0; i < 3; i++) await exchange(portOf(s.sluice, "web"), "x");
    const reset = await s.call("POST", "/api/v1/stats/reset");
    assert.equal(reset.status, 200);
    const stats = await json(await s.call("GET", "/api/v1/stats"));
    assert.equal((stats.total as Doc).connections_total, 0);
    assert.ok(stats.stats_reset_at);
    await exchange(portOf(s.sluice, "web"), "x");
    const after = await json(await s.call("GET", "/api/v1/stats"));
    assert.equal((after.total as Doc).connections_total, 1);
    const metrics = await (await s.call("GET", "/metrics")).text();
    assert.match(metrics, /sluice_listener_connections_total\{listener="web"\} 4/);
  });

  test("/healthz answers 503 while draining", async () => {
    const a = await server(hold);
    const s = await start({
      drain_timeout: "3s",
      listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [backend(a.port)] }],
    });
    assert.equal((await s.call("GET", "/healthz")).status, 200);
    const client = await connect(portOf(s.sluice, "web"));
    assert.ok(await waitFor(() => a.sockets.size === 1));
    const stopping = s.sluice.shutdown();
    await delay(100);
    const during = await s.call("GET", "/healthz");
    assert.equal(during.status, 503);
    assert.match(await during.text(), /draining/);
    client.destroy();
    await stopping;
  });
});
