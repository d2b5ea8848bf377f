/**
 * examples/prometheus/sluice-alerts.yml and examples/grafana/sluice-dashboard.json against the real things:
 * Debian's Prometheus (`.ci/run` installs it) scrapes the real CLI on this runtime, in which the condition of
 * every alert has been created: a backend down, a listener without a healthy backend, refusals at
 * max_connections and for want of a backend, failed connects and repeated ejections, a flapping health check,
 * UDP drops, a failed reload, and a second scrape target that is down. Then every rule expression, every
 * dashboard query, template variable and annotation must return data and name only metrics Sluice exposes; each
 * alert must pick out the right listeners and backends (and not the healthy ones); and every rule must load
 * healthy and go pending or firing.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as dgram from "node:dgram";
import type * as net from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cleanupAfter } from "./helpers/cleanup.ts";
import { connect, delay, ended, exchange, freePort, startServer, type TestServer } from "./helpers/net.ts";
import { runtimeName, type SluiceProcess, startSluice } from "./helpers/spawn.ts";

const RULES = fileURLToPath(new URL("../examples/prometheus/sluice-alerts.yml", import.meta.url));
const DASHBOARD = fileURLToPath(new URL("../examples/grafana/sluice-dashboard.json", import.meta.url));
const PROMETHEUS = "/usr/bin/prometheus";
/** Grafana's built-in variables, as a panel would see them over a short time range; `$instance` and `$listener` are "All". */
const GRAFANA_VARIABLES: Record<string, string> = {
  __rate_interval: "1m",
  __interval: "15s",
  __range: "5m",
  instance: ".*",
  listener: ".*",
};

const { cleanups, server } = cleanupAfter();

/** Answers one HTTP request per connection (health checks and traffic alike) once its head is in. */
function httpOk(socket: net.Socket): void {
  let head = "";
  socket.on("data", (chunk: Buffer) => {
    if (head.includes("\r\n\r\n")) return; // answered
    head += chunk.toString("latin1");
    if (head.includes("\r\n\r\n")) socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  });
}

/** A UDP server on 127.0.0.1 that sends every datagram back. */
async function udpEcho(): Promise<{ port: number; close(): Promise<void> }> {
  const socket = dgram.createSocket("udp4");
  socket.on("message", (message, from) => socket.send(message, from.port, from.address));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  return { port: socket.address().port, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

/** Sends `count` datagrams to 127.0.0.1:port from one socket; resolves with how many came back within `waitMs`. */
async function sendDatagrams(port: number, count: number, waitMs: number): Promise<number> {
  const socket = dgram.createSocket("udp4");
  let replies = 0;
  socket.on("message", () => replies++);
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  for (let i = 0; i < count; i++) socket.send(`query ${i}`, port, "127.0.0.1");
  const deadline = Date.now() + waitMs;
  while (replies < count && Date.now() < deadline) await delay(20);
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return replies;
}

/** Connects; true once Sluice ends the connection (FIN or reset: a refusal), false when it is still open after `timeoutMs`. */
async function refused(port: number, timeoutMs = 3000): Promise<boolean> {
  const socket = await connect(port).catch(() => undefined);
  if (!socket) return true; // refused before the handshake completed: also a refusal
  socket.on("error", () => {});
  const result = await Promise.race([ended(socket).then(() => true), delay(timeoutMs).then(() => false)]);
  socket.destroy();
  return result;
}

/** A Prometheus child process with a fresh data directory. */
interface Prometheus {
  readonly base: string;
  readonly child: ChildProcess;
  output(): string;
}

/** Starts Prometheus on a free port (retrying when another process took it first); waits until it is ready. */
async function startPrometheus(dir: string, configText: string): Promise<Prometheus> {
  const config = join(dir, "prometheus.yml");
  writeFileSync(config, configText);
  let lastOutput = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(PROMETHEUS, [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    let exited = false;
    const gone = new Promise<void>((resolve) => {
      child.on("exit", () => (exited = true, resolve()));
      child.on(
        "error",
        (error) => (output += `cannot run ${PROMETHEUS}: ${error.message}\n`, exited = true, resolve()),
      );
    });
    // Its data is thrown away with the directory: no need to wait for an orderly shutdown.
    cleanups.push(async () => {
      if (!exited) child.kill("SIGKILL");
      await gone;
    });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    for (let i = 0; i < 300 && !exited && Date.now() < deadline; i++) {
      const ready = await fetch(`${base}/-/ready`).then((r) => (void r.body?.cancel(), r.ok), () => false);
      if (ready) return { base, child, output: () => output };
      await delay(50);
    }
    lastOutput = output;
    if (!exited) child.kill("SIGKILL");
    await gone;
  }
  throw new Error(`Prometheus did not become ready:\n${lastOutput}`);
}

/** One sample of an instant query's answer. */
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(prometheus: Prometheus, expr: string): Promise<{ error?: string; samples: Sample[] }> {
  const response = await fetch(`${prometheus.base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await response.json() as {
    status: string;
    error?: string;
    data?: { resultType: string; result: unknown };
  };
  if (body.status !== "success") return { error: body.error ?? `HTTP ${response.status}`, samples: [] };
  const { resultType, result } = body.data!;
  if (resultType === "scalar") return { samples: [{ metric: {}, value: result as [number, string] }] };
  if (resultType !== "vector") return { error: `unexpected result type ${resultType}`, samples: [] };
  return { samples: result as Sample[] };
}

/** Replaces Grafana's `$name`, `${name}` and `[[name]]` with the values above; throws on one it does not know. */
function substitute(expr: string): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a, b, c) => {
    const value = GRAFANA_VARIABLES[a ?? b ?? c];
    if (value === undefined) throw new Error(`unknown variable ${whole} in ${expr}`);
    return value;
  });
}

interface Dashboard {
  panels: { title: string; type: string; targets?: { expr?: string }[] }[];
  templating: { list: { name: string; type: string; definition?: string }[] };
  annotations: { list: { name: string; expr?: string }[] };
}

/** Every query the dashboard runs, named by where it is. */
function dashboardQueries(dashboard: Dashboard): { where: string; expr: string }[] {
  const queries: { where: string; expr: string }[] = [];
  for (const panel of dashboard.panels) {
    for (const [i, target] of (panel.targets ?? []).entries()) {
      queries.push({ where: `panel "${panel.title}" target ${i}`, expr: substitute(target.expr ?? "") });
    }
  }
  for (const annotation of dashboard.annotations.list) {
    if (annotation.expr) queries.push({ where: `annotation "${annotation.name}"`, expr: substitute(annotation.expr) });
  }
  // label_values(SELECTOR, LABEL): the selector must find series that carry LABEL.
  for (const variable of dashboard.templating.list) {
    if (variable.type !== "query") continue;
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(variable.definition ?? "");
    assert.ok(m, `variable ${variable.name}: expected label_values(SELECTOR, LABEL), got ${variable.definition}`);
    queries.push({ where: `variable "${variable.name}" (${m[2]})`, expr: `count by (${m[2]}) (${substitute(m[1])})` });
  }
  return queries;
}

/** What each alert must pick out once the conditions exist: label values present in its result, and absent. */
const EXPECTED: Record<string, { label: string; present: string[]; absent: string[] }> = {
  SluiceDown: { label: "instance", present: ["<dead>"], absent: ["<admin>"] },
  SluiceNoHealthyBackend: { label: "listener", present: ["dead", "dns-dead"], absent: ["web", "dns", "passive"] },
  SluiceBackendDown: {
    label: "backend",
    present: ["app-2", "gone", "silent"],
    absent: ["app-1", "echo", "steady", "resting"],
  },
  SluicePoolDegraded: { label: "listener", present: ["web"], absent: ["dead", "dns", "passive"] },
  SluiceRejectingClients: { label: "listener", present: ["web", "dead"], absent: ["passive", "dns"] },
  SluiceConnectionLimitReached: { label: "listener", present: ["web"], absent: ["dead", "passive"] },
  SluiceBackendConnectErrors: { label: "backend", present: ["flaky"], absent: ["steady", "app-1"] },
  SluiceBackendEjectedRepeatedly: { label: "backend", present: ["flaky"], absent: ["steady", "app-1"] },
  SluiceBackendFlapping: { label: "backend", present: ["toggled"], absent: ["app-1", "echo"] },
  SluiceReloadFailed: { label: "instance", present: ["<admin>"], absent: [] },
  SluiceUdpDatagramsDropped: { label: "listener", present: ["dns-dead"], absent: ["dns"] },
};

interface RuleState {
  name: string;
  query: string;
  health: string;
  state: string;
  lastError?: string;
}

describe(`Prometheus rules and Grafana dashboard against Sluice on ${runtimeName}`, () => {
  test("every alert and dashboard query returns data from a real Sluice; rules load healthy and fire", async () => {
    const started = Date.now();
    const dir = mkdtempSync(join(tmpdir(), "sluice-prometheus-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const targets = join(dir, "targets.json");
    const starting = startPrometheus(
      dir,
      [
        `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s`,
        `rule_files:\n  - ${JSON.stringify(RULES)}`,
        `scrape_configs:\n  - job_name: sluice\n    file_sd_configs:\n      - files: [${JSON.stringify(targets)}]`,
        ``,
      ].join("\n"),
    );
    starting.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled

    // Backends: one that answers, closed ports, one whose port comes and goes, a UDP echo, a silent UDP port.
    const web = await server(httpOk);
    const spare = await server(httpOk);
    const [closedWeb, closedDead, closedFlaky, closedUdp, deadTarget] = await Promise.all(
      Array.from({ length: 5 }, () => freePort()),
    );
    let flapping: TestServer | undefined = await startServer(() => {});
    const flapPort = flapping.port;
    let flaps = Promise.resolve();
    let stopFlapping = false;
    cleanups.push(async () => {
      stopFlapping = true;
      await flaps.catch(() => {});
      await flapping?.close();
    });
    const echo = await udpEcho();
    cleanups.push(() => echo.close());

    const check = `interval = "100ms", timeout = "300ms", rise = 1, fall = 1`;
    const configText = [
      `drain_timeout = "1s"`,
      `[log]\nlevel = "info"`,
      `[admin]\nlisten = "127.0.0.1:0"`,
      `[[listeners]]\nname = "web"\nlisten = "127.0.0.1:0"\nbalance = "least-conn"\nmax_connections = 2`,
      `health = { type = "http", path = "/healthz", ${check} }`,
      `backends = [{ name = "app-1", address = "127.0.0.1:${web.port}" }, ` +
      `{ name = "app-2", address = "127.0.0.1:${closedWeb}" }, { name = "resting", address = "127.0.0.1:${spare.port}" }]`,
      `[[listeners]]\nname = "dead"\nlisten = "127.0.0.1:0"\nhealth = { ${check} }`,
      `backends = [{ name = "gone", address = "127.0.0.1:${closedDead}" }]`,
      `[[listeners]]\nname = "passive"\nlisten = "127.0.0.1:0"\nbalance = "round-robin"\nretries = 1`,
      `max_fails = 1\nfail_timeout = "100ms"`,
      `backends = [{ name = "flaky", address = "127.0.0.1:${closedFlaky}" }, ` +
      `{ name = "steady", address = "127.0.0.1:${web.port}" }]`,
      `[[listeners]]\nname = "flappy"\nlisten = "127.0.0.1:0"\nhealth = { ${check} }`,
      `backends = [{ name = "toggled", address = "127.0.0.1:${flapPort}" }]`,
      `[[listeners]]\nname = "dns"\nprotocol = "udp"\nlisten = "127.0.0.1:0"`,
      `health = { send = "ping", expect = "ping", ${check} }`,
      `backends = [{ name = "echo", address = "127.0.0.1:${echo.port}" }]`,
      `[[listeners]]\nname = "dns-dead"\nprotocol = "udp"\nlisten = "127.0.0.1:0"`,
      `health = { send = "ping", expect = "ping", ${check} }`,
      `backends = [{ name = "silent", address = "127.0.0.1:${closedUdp}" }]`,
      ``,
    ].join("\n");
    const configFile = join(dir, "sluice.toml");
    writeFileSync(configFile, configText);

    const sluice: SluiceProcess = startSluice(["-c", configFile, "--no-watch", "--log-format", "text"]);
    cleanups.push(async () => {
      sluice.kill("SIGKILL");
      await sluice.exited;
    });
    const adminPort = Number((await sluice.waitForLog(/admin\.start address=127\.0\.0\.1:(\d+)/))[1]);
    const admin = `http://127.0.0.1:${adminPort}`;
    const stats = await (await fetch(`${admin}/api/v1/stats`)).json() as {
      listeners: { name: string; address: string }[];
    };
    const port = (name: string) => Number(stats.listeners.find((l) => l.name === name)!.address.split(":").pop());
    // An operator's drain: out of service, but no outage (SluiceBackendDown must leave it out).
    assert.equal((await fetch(`${admin}/api/v1/listeners/web/backends/resting/drain`, { method: "POST" })).status, 200);

    // Targets through a file: Prometheus applies discovered targets every 5 s, so it starts first, beside Sluice.
    writeFileSync(targets, JSON.stringify([{ targets: [`127.0.0.1:${adminPort}`, `127.0.0.1:${deadTarget}`] }]));
    const prometheus = await starting;

    // increase() and rate() see only what changed between scrapes: two scrapes before anything happens.
    const calm = Date.now() + 15_000;
    let scrapes = 0;
    for (let i = 0; i < 100 && scrapes < 2 && Date.now() < calm; i++) {
      const r = await query(prometheus, "count_over_time(sluice_build_info[1m])");
      scrapes = Number(r.samples[0]?.value[1] ?? 0);
      if (scrapes < 2) await delay(200);
    }
    assert.ok(scrapes >= 2, `Prometheus scraped Sluice ${scrapes} times in 15 s:\n${prometheus.output()}`);

    // A reload that works (the reload annotation), then the conditions.
    sluice.kill("SIGHUP");
    await sluice.waitForLog(/config\.reload source=signal result=ok/);
    flaps = (async () => {
      for (let cycle = 0; cycle < 3 && !stopFlapping; cycle++) {
        await delay(350);
        await flapping!.close();
        flapping = undefined;
        await delay(350);
        flapping = await startServer(() => {}, {}, flapPort);
      }
    })();
    flaps.catch(() => {}); // awaited below
    for (let i = 0; i < 5; i++) assert.match(await exchange(port("web"), "GET / HTTP/1.0\r\n\r\n"), /200 OK/);
    assert.equal(await sendDatagrams(port("dns"), 5, 2000), 5, "the UDP echo answers through Sluice");
    assert.equal(await sendDatagrams(port("dns-dead"), 5, 300), 0, "nothing answers on dns-dead");
    // Two held connections fill web (max_connections = 2); the next three are refused.
    const held = [await connect(port("web")), await connect(port("web"))];
    for (const socket of held) socket.on("error", () => {});
    cleanups.push(() => held.forEach((s) => s.destroy()));
    let active = 0;
    for (let i = 0; i < 100 && active < 2; i++) {
      const s = await (await fetch(`${admin}/api/v1/stats`)).json() as {
        listeners: { name: string; active_connections: number }[];
      };
      active = s.listeners.find((l) => l.name === "web")!.active_connections;
      if (active < 2) await delay(20);
    }
    assert.equal(active, 2, "two connections held on web");
    for (let i = 0; i < 3; i++) assert.ok(await refused(port("web")), "refused at max_connections");
    for (let i = 0; i < 3; i++) assert.ok(await refused(port("dead")), "refused for want of a backend");
    held.forEach((s) => s.destroy());
    // Round robin offers every other client to the closed port first: a failed connect, an ejection, a retry.
    for (let i = 0; i < 10; i++) {
      assert.match(await exchange(port("passive"), "GET / HTTP/1.0\r\n\r\n"), /200 OK/, "retried on steady");
      await delay(150);
    }
    await flaps;
    writeFileSync(configFile, configText + "bogus = 1\n");
    sluice.kill("SIGHUP");
    await sluice.waitForLog(/config\.reload source=signal result=error/);

    // Every expression must name only what /metrics has, and come back with data.
    const metricsText = await (await fetch(`${admin}/metrics`)).text();
    const exposed = new Set(
      metricsText.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => /^\w+/.exec(l)![0]),
    );
    const rulesText = readFileSync(RULES, "utf8");
    const alertNames = [...rulesText.matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual(Object.keys(EXPECTED).sort(), [...alertNames].sort(), "each alert has its condition here");
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;
    const queries = dashboardQueries(dashboard);
    assert.ok(queries.length >= 20, `${queries.length} dashboard queries`);

    const named = (value: string) =>
      value === "<dead>" ? `127.0.0.1:${deadTarget}` : value === "<admin>" ? `127.0.0.1:${adminPort}` : value;
    let problems: string[] = [];
    let rules: RuleState[] = [];
    const deadline = Date.now() + 20_000;
    for (let round = 0; round < 60 && Date.now() < deadline; round++) {
      problems = [];
      const body = await (await fetch(`${prometheus.base}/api/v1/rules`)).json() as {
        data: { groups: { rules: (RuleState & { type: string })[] }[] };
      };
      rules = body.data.groups.flatMap((g) => g.rules).filter((r) => r.type === "alerting");
      const all = [
        ...rules.map((r) => ({ where: `alert ${r.name}`, expr: r.query, rule: r.name })),
        ...queries.map((q) => ({ ...q, rule: undefined })),
      ];
      for (const { where, expr, rule } of all) {
        for (const name of expr.match(/\bsluice_\w+/g) ?? []) {
          if (!exposed.has(name)) problems.push(`${where}: ${name} is not in Sluice's /metrics`);
        }
        const result = await query(prometheus, expr);
        if (result.error) problems.push(`${where}: ${result.error}`);
        else if (result.samples.length === 0) problems.push(`${where}: no data`);
        else if (!result.samples.some((s) => Number.isFinite(Number(s.value[1])))) {
          problems.push(`${where}: only NaN or infinite values`);
        }
        const expected = rule === undefined ? undefined : EXPECTED[rule];
        if (expected === undefined || result.error) continue;
        const seen = new Set(result.samples.map((s) => s.metric[expected.label]));
        for (const value of expected.present) {
          if (!seen.has(named(value))) problems.push(`${where}: ${expected.label}="${named(value)}" missing`);
        }
        for (const value of expected.absent) {
          if (seen.has(named(value))) {
            problems.push(`${where}: ${expected.label}="${named(value)}" should not be there`);
          }
        }
      }
      for (const r of rules) {
        if (r.health !== "ok" || r.lastError) problems.push(`rule ${r.name}: health ${r.health} ${r.lastError ?? ""}`);
        if (r.state !== "pending" && r.state !== "firing") problems.push(`rule ${r.name}: ${r.state}`);
      }
      if (problems.length === 0) break;
      await delay(500);
    }
    assert.deepEqual(rules.map((r) => r.name).sort(), [...alertNames].sort(), "Prometheus loaded every alert");
    assert.deepEqual(problems, [], `after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    sluice.kill("SIGTERM");
    assert.equal(await sluice.exited, 0, sluice.stderr());
  });
});
