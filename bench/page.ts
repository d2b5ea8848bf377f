/**
 * `npm run bench:page`: the status page's budget. Times the refresh fragment
 * (`/ui/live`) with one listener of 50 backends, 300 seconds of history and
 * 1,000 live sessions, and estimates the first load (static assets plus one
 * fragment, gzip-compressed) against its 120 KiB budget. Runs on any runtime:
 *   node bench/page.ts | deno run -A bench/page.ts | bun bench/page.ts
 */
import { gzipSync } from "node:zlib";
import { AdminGuard } from "../src/admin/auth.ts";
import { ASSETS } from "../src/admin/assets.gen.ts";
import { type PageDeps, renderLive } from "../src/admin/page/routes.ts";
import { statsView } from "../src/admin/views.ts";
import type { Clock } from "../src/runtime/types.ts";
import { Collector } from "../src/stats/collector.ts";
import type { SessionJson } from "../src/stats/table-view.ts";
import { StateBook } from "../src/upstream/state.ts";

const BACKENDS = 50;
const SECONDS = 300;
const SESSIONS = 1_000;
const WARMUP = 20;
const RUNS = 200;
const FIRST_LOAD_BUDGET = 120 * 1024;
const FIRST_LOAD_ASSETS = ["htmx.min.js", "uPlot.min.js", "uPlot.min.css", "sluice.css", "sluice.js"];

/** A clock that only moves when the bench moves it; timers never fire. */
let time = 0;
const clock: Clock = {
  now: () => time,
  wallNow: () => 1_800_000_000_000 + time,
  setTimeout: () => 0,
  clearTimeout: () => {},
  setInterval: () => 0,
  clearInterval: () => {},
};

const collector = new Collector({ version: "bench", runtime: "bench", runtimeVersion: "0" }, clock);
const states = new StateBook(clock.now);
const listener = collector.listener("tcp/0.0.0.0:8080", "web");
const backends = Array.from({ length: BACKENDS }, (_, i) => {
  const key = `10.0.${i >> 8}.${i & 255}:80`;
  states.get(listener.key, key, { maxFails: 3, failTimeoutMs: 10_000 });
  return collector.backend(listener, key, `web-${i}`);
});

// Counters move between ticks so every series has points to chart.
for (let s = 0; s < SECONDS; s++) {
  for (const [i, b] of backends.entries()) {
    const opened = 1 + ((s + i) % 5);
    b.connections += opened;
    b.connected += opened;
    b.connectMs += opened * (0.5 + (i % 7) / 10);
    b.active = 10 + ((s * 3 + i) % 20);
    b.toUpstream += 10_000 + i * 100;
    b.toClient += 200_000 + i * 1_000;
    listener.connections += opened;
    listener.connected += opened;
    listener.connectMs += opened * 0.6;
    listener.toUpstream += 10_000 + i * 100;
    listener.toClient += 200_000 + i * 1_000;
    collector.total.connections += opened;
    collector.total.toUpstream += 10_000 + i * 100;
    collector.total.toClient += 200_000 + i * 1_000;
  }
  listener.active = collector.total.active = backends.reduce((n, b) => n + b.active, 0);
  time += 1000;
  collector.tick();
}

const session = (i: number): SessionJson => ({
  id: i + 1,
  protocol: "tcp",
  listener: "web",
  client: `198.51.${(i >> 8) & 255}.${i & 255}:${40_000 + i}`,
  backend: `web-${i % BACKENDS}`,
  started: new Date(clock.wallNow() - (i + 1) * 1000).toISOString(),
  duration_ms: (i + 1) * 1000,
  received_bytes: 1_000 * i,
  sent_bytes: 50_000 * i,
  state: "relaying",
  close_reason: null,
});
const live = Array.from({ length: SESSIONS }, (_, i) => session(i));

const deps: PageDeps = {
  collector,
  guard: new AdminGuard({ clock }),
  view: () => statsView(collector, states, clock.now()),
  // As the API answers: every live session counted, `limit` of them listed.
  connections: (limit) =>
    Promise.resolve({ live_total: live.length, matched: live.length, live: live.slice(0, limit), recent: [] }),
  control: true,
  wallNow: () => clock.wallNow(),
};

const timings: number[] = [];
let fragment = "";
for (let i = 0; i < WARMUP + RUNS; i++) {
  const started = performance.now();
  fragment = await renderLive(deps);
  if (i >= WARMUP) timings.push(performance.now() - started);
}
timings.sort((a, b) => a - b);
const quantile = (q: number) => timings[Math.min(timings.length - 1, Math.floor(q * timings.length))];

const encoder = new TextEncoder();
const gzipped = (text: string) => gzipSync(encoder.encode(text)).byteLength;
const fragmentGzip = gzipped(fragment);
const assetSizes = FIRST_LOAD_ASSETS.map((name) => {
  const asset = ASSETS[name];
  if (!asset) throw new Error(`no asset ${name} in src/admin/assets.gen.ts`);
  return gzipped(asset.body);
});
const firstLoad = assetSizes.reduce((a, b) => a + b, 0) + fragmentGzip;

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const rows: [string, string][] = [
  ["runtime", runtime],
  ["setup", `1 listener, ${BACKENDS} backends, ${SECONDS} s history, ${SESSIONS} live sessions`],
  [`render median (${RUNS} runs)`, `${quantile(0.5).toFixed(2)} ms`],
  ["render p95", `${quantile(0.95).toFixed(2)} ms`],
  ["fragment raw", kib(encoder.encode(fragment).byteLength)],
  ["fragment gzip", kib(fragmentGzip)],
  ...FIRST_LOAD_ASSETS.map((name, i): [string, string] => [`${name} gzip`, kib(assetSizes[i])]),
  ["first load (assets + fragment, gzip)", kib(firstLoad)],
  [`under ${kib(FIRST_LOAD_BUDGET)}`, firstLoad < FIRST_LOAD_BUDGET ? "yes" : "NO"],
];
console.log("| measure | value |\n| --- | --- |");
for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);
