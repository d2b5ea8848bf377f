/**
 * The status page in a real headless Chromium, driven from Node
 * (`tests/browser/drive.mjs`) while this runtime serves the page: charts
 * draw and are kept across refreshes, numbers move, the filter narrows the
 * connections table, Drain drains (and the API agrees), focus survives a
 * refresh, a login is asked for when credentials are set, no console errors
 * or CSP violations, no horizontal scroll at 390 px, and screenshots at
 * desktop and phone width, light and dark. The soak (DOM nodes and JS heap
 * over 1,800 refreshes) runs on Node only: it measures the browser's side,
 * which the serving runtime does not change, and takes half a minute.
 */
import { test } from "node:test";
import process from "node:process";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import { hashPassword } from "../src/admin/password.ts";
import { type Sluice, startSluice } from "../src/compose.ts";
import { loadObject } from "../src/config/load.ts";
import { formatAddress } from "../src/net/address.ts";
import { selectRuntime } from "../src/runtime/select.ts";
import { cleanupAfter } from "./helpers/cleanup.ts";
import { memoryLog } from "./helpers/log.ts";
import { runtimeName } from "./helpers/spawn.ts";

const runtime = selectRuntime();
const { cleanups, server } = cleanupAfter();
const DRIVE = fileURLToPath(new URL("./browser/drive.mjs", import.meta.url));

/** A backend that echoes what it gets. */
const echo = (socket: net.Socket) => void socket.on("error", () => {}).pipe(socket);

async function start(admin: Record<string, unknown> = {}): Promise<{ sluice: Sluice; base: string; proxy: number }> {
  const a = await server(echo);
  const b = await server(echo);
  const document = {
    admin: { listen: "127.0.0.1:0", ...admin },
    drain_timeout: "1s",
    listeners: [{
      name: "web",
      listen: "127.0.0.1:0",
      backends: [{ address: `127.0.0.1:${a.port}`, name: "alpha" }, {
        address: `127.0.0.1:${b.port}`,
        name: "beta",
        weight: 2,
      }],
    }],
  };
  const loaded = loadObject(document);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const sluice = await startSluice(runtime, loaded.config, { log: memoryLog().log, document });
  cleanups.push(() => sluice.shutdown());
  return {
    sluice,
    base: `http://${formatAddress(sluice.adminAddress!)}`,
    proxy: sluice.listeners()[0].address.port,
  };
}

/** Long-lived clients from distinct loopback addresses, each sending a little every 100 ms until cleanup. */
function traffic(port: number, sources: string[]): void {
  for (const localAddress of sources) {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress });
    socket.on("error", () => {});
    socket.resume();
    const timer = setInterval(() => socket.write("x".repeat(512)), 100);
    cleanups.push(() => {
      clearInterval(timer);
      socket.destroy();
    });
  }
}

/** What the driver saw: its JSON line, read field by field by the assertions. */
// deno-lint-ignore no-explicit-any
type Seen = Record<string, any>;

/** Runs a scenario of the driver under Node; its one JSON line. */
function drive(scenario: string, base: string, options: unknown, timeoutMs: number): Promise<Seen> {
  const dir = mkdtempSync(join(tmpdir(), `sluice-page-${runtimeName}-`));
  return new Promise((resolve, reject) => {
    execFile(
      "node",
      [DRIVE, scenario, base, dir, JSON.stringify(options)],
      { timeout: timeoutMs, maxBuffer: 8 << 20 },
      (error, stdout, stderr) => {
        const line = stdout.trim().split("\n").pop() ?? "";
        try {
          resolve(JSON.parse(line));
        } catch {
          reject(new Error(`driver failed: ${error?.message}\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

test(`status page in Chromium, served by ${runtimeName}: charts, refresh, filter, drain, CSP, phone width`, async () => {
  const { base, proxy } = await start();
  traffic(proxy, ["127.0.0.2", "127.0.0.3", "127.0.0.3", "127.0.0.4"]);
  const seen = await drive("page", base, { source: "127.0.0.3", drain: "alpha" }, 90_000);
  assert.equal(seen.ok, true, seen.error);
  console.log(`screenshots (${runtimeName}): ${seen.screenshots.join(" ")}`);
  assert.deepEqual(seen.csp, [], "no CSP violations");
  assert.deepEqual(seen.errors, [], "no console errors");
  assert.notEqual(seen.totalsAfter, seen.totalsBefore, "the totals move between refreshes");
  assert.equal(seen.unmarkedCanvases, 0, "no chart re-created by a refresh");
  // Every chart drew: the total's and both busy sparklines have ink.
  for (const key of ["total|bytes", "total|conns"]) assert.ok(seen.inked[key] > 100, `${key} drew`);
  const sparks = Object.entries(seen.inked as Record<string, number>).filter(([k]) => k.startsWith("b:"));
  assert.equal(sparks.length, 4, "two sparklines per backend");
  assert.ok(sparks.some(([k, n]) => k.endsWith("|bytes") && n > 0), "a backend's throughput sparkline drew");
  assert.ok(seen.rowsBefore >= 4, `all connections listed before filtering (${seen.rowsBefore})`);
  assert.equal(seen.filteredClients.length, 2);
  assert.ok(seen.filteredClients.every((c: string) => c.startsWith("127.0.0.3:")));
  assert.deepEqual(seen.filteredAfterRefresh.length, 2, "the filter holds across refreshes");
  assert.equal(seen.focusKept, true, "focus stays on the same button across a refresh");
  assert.match(seen.notice, /Drain alpha in web: done/);
  assert.ok(seen.phoneScrollWidth <= 390, `no horizontal scroll at 390 px (${seen.phoneScrollWidth})`);
  const stats = await (await fetch(`${base}/api/v1/stats`)).json();
  const alpha = stats.listeners[0].backends.find((b: { name: string }) => b.name === "alpha");
  assert.match(alpha.state, /^(draining|drained)$/, "the API agrees");
});

test(`status page asks for a login when credentials are set (${runtimeName})`, async () => {
  const { base } = await start({ username: "ops", password_hash: await hashPassword("pw for page", 1000) });
  const seen = await drive("login", base, { username: "ops", password: "pw for page" }, 60_000);
  assert.equal(seen.ok, true, seen.error + JSON.stringify(seen));
  assert.equal(seen.landed, "/login");
  assert.equal(seen.after, "/");
  assert.equal(seen.logout, 1);
  assert.equal(seen.afterLogout, "/login");
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.csp, []);
});

test(
  "status page: DOM nodes and JS heap stay flat over 1,800 refreshes",
  { skip: runtimeName !== "node" || process.env.SLUICE_SOAK !== "1" },
  async () => {
    const { base, proxy } = await start();
    traffic(proxy, ["127.0.0.2", "127.0.0.3"]);
    const seen = await drive("soak", base, { refresh: 0.01, warm: 100, count: 1800 }, 300_000);
    assert.equal(seen.ok, true, seen.error);
    const { start: s, end: e } = seen;
    console.log(
      `soak: ${e.refreshes - s.refreshes} refreshes; DOM ${s.nodes} -> ${e.nodes} elements; ` +
        `heap ${(s.heap / 1e6).toFixed(2)} -> ${(e.heap / 1e6).toFixed(2)} MB; ${seen.charts} charts`,
    );
    assert.ok(e.refreshes - s.refreshes >= 1800);
    assert.ok(Math.abs(e.nodes - s.nodes) <= 20, `DOM elements ${s.nodes} -> ${e.nodes}`);
    assert.ok(e.heap - s.heap < 2e6, `JS heap ${s.heap} -> ${e.heap}`);
    assert.equal(seen.charts, 8, "one canvas per chart (2 total, 2 listener, 4 backend), none left behind");
    assert.deepEqual(seen.errors, []);
  },
);
