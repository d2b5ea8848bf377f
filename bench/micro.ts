/**
 * `npm run bench:micro`: nanoseconds per call of the hot functions, so a
 * regression shows without a full run. Runs on any runtime:
 *   node bench/micro.ts | deno run -A bench/micro.ts | bun bench/micro.ts
 */
import { BALANCER_NAMES, BALANCERS } from "../src/balance/registry.ts";
import { hashKey } from "../src/balance/hash-key.ts";
import type { Member } from "../src/balance/types.ts";
import { loadObject } from "../src/config/load.ts";
import { Sessions } from "../src/proxy/sessions.ts";
import type { Clock } from "../src/runtime/types.ts";
import { ClientTop } from "../src/stats/client-top.ts";
import { Collector } from "../src/stats/collector.ts";
import { Ring } from "../src/stats/history.ts";
import { Pool } from "../src/upstream/pool.ts";
import { StateBook } from "../src/upstream/state.ts";

/** Runs `fn` in batches until `ms` have passed; returns ns per call. */
function time(fn: (i: number) => unknown, ms = 300): number {
  for (let i = 0; i < 10_000; i++) fn(i); // warm up
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 10_000; i++) fn(calls + i);
    calls += 10_000;
    now = performance.now();
  }
  return ((now - start) * 1e6) / calls;
}

const clock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: () => 0,
  clearTimeout: () => {},
  setInterval: () => 0,
  clearInterval: () => {},
};

const rows: [string, number][] = [];
const members: Member[] = Array.from({ length: 8 }, (_, i) => ({
  key: `10.0.0.${i}:80`,
  weight: 1 + (i % 3),
  active: i * 3,
  eligible: true,
  fallback: true,
  latencyMs: 1 + i,
}));
const keys = Array.from({ length: 1024 }, (_, i) => hashKey(`192.0.2.${i & 255}.${i >> 8}`));
for (const name of BALANCER_NAMES) {
  const balancer = BALANCERS[name](members, { random: Math.random });
  rows.push([`pick() ${name}, 8 backends`, time((i) => balancer.pick(keys[i & 1023]))]);
}
const ips = Array.from({ length: 1024 }, (_, i) => `198.51.${i >> 8}.${i & 255}`);
rows.push(["hashKey(client ip)", time((i) => hashKey(ips[i & 1023]))]);

// Per session: one connection() at open, one bytes() per fold with traffic.
const top = new ClientTop();
rows.push(["ClientTop.connection(), 64 clients", time((i) => top.connection(ips[i & 63], i / 100))]);
rows.push(["ClientTop.bytes(), 64 clients", time((i) => top.bytes(ips[i & 63], 1500, i / 100))]);
const many = Array.from({ length: 65536 }, (_, i) => `203.0.${i >> 8}.${i & 255}`);
rows.push(["ClientTop.bytes(), 65536 clients (evicting)", time((i) => top.bytes(many[i & 65535], 1500, i / 100))]);

const ring = new Ring(300);
rows.push(["Ring.push()", time((i) => ring.push(i))]);

const loaded = loadObject({
  listeners: [{ listen: ":0", backends: Array.from({ length: 8 }, (_, i) => ({ address: `10.0.0.${i}:80` })) }],
});
if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
const config = loaded.config.listeners[0];
const collector = new Collector({ version: "bench", runtime: "bench", runtimeVersion: "0" }, clock);
const listener = collector.listener(config.key, config.name);
const pool = new Pool(config, {
  states: new StateBook(),
  countersFor: (key, name) => collector.backend(listener, key, name),
  balancer: { random: Math.random },
});
const sessions = new Sessions(collector.total, collector.recent);
collector.addSource(() => sessions.foldAll());
const live = Array.from({ length: 1000 }, (_, i) => {
  const session = sessions.open(
    listener,
    { host: "192.0.2.1", port: i },
    { idleTimeoutMs: 0, halfCloseTimeoutMs: 0 },
    0,
    0,
  );
  sessions.attach(session, pool.backends[i % 8]);
  return session;
});
rows.push([
  "Collector.tick(), 1000 live connections",
  time((i) => {
    live[i % 1000].toUpstream += 100;
    collector.tick();
  }, 500),
]);

const width = Math.max(...rows.map(([n]) => n.length));
console.log(`| function | ns per call |\n| --- | --- |`);
for (const [name, ns] of rows) console.log(`| ${name.padEnd(width)} | ${ns.toFixed(ns < 10 ? 2 : 0)} |`);
