/**
 * Idle connections: opens N connections through Sluice to an echo backend,
 * leaves them idle, reports the proxy's RSS, then checks a sample still works.
 *
 *   node bench/idle.ts [--runtime bun|deno|node] [--connections N] [--workers N]
 *
 * The proxy holds two descriptors per connection; the backend runs in its own
 * process and the clients in this one, so each stays under the per-process limit.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import process from "node:process";
import { freePort, NODE, ROOT, type RuntimeName, sluiceArgv, waitForPort } from "./forwarders.ts";
import { treeRss } from "./procs.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const runtime = option("--runtime", "bun") as RuntimeName;
const wanted = Number(option("--connections", "10000"));
const workers = option("--workers", "1");
const MiB = 1024 * 1024;

const fdLimit = Number(
  readFileSync("/proc/self/limits", "utf8").match(/Max open files\s+\d+\s+(\d+)/)?.[1] ?? Infinity,
);
// Two descriptors per proxied connection, plus listeners, admin, stdio and the runtime's own.
const fits = Math.floor((fdLimit - 64) / 2);
const count = Math.min(wanted, fits);
if (count < wanted) {
  console.log(
    `note: ${wanted} connections need ${
      2 * wanted + 64
    } descriptors in the proxy; this machine allows ${fdLimit} per process (hard limit), so ${count} are opened.`,
  );
}

const backendPort = await freePort();
const backend = spawn(NODE, [
  "-e",
  `
  let n = 0;
  require("net").createServer((s) => { n++; s.on("data", (d) => s.write(d)); s.on("error", () => {}); s.on("close", () => n--); })
    .listen({ port: ${backendPort}, host: "127.0.0.1", backlog: 4096 });
  process.stdin.on("data", () => process.stdout.write(n + "\\n"));
`,
], { stdio: ["pipe", "pipe", "inherit"] });
await waitForPort(backendPort);
const backendCount = () =>
  new Promise<number>((resolve) => {
    backend.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    backend.stdin!.write("?\n");
  });

const port = await freePort();
const admin = await freePort();
const [command, ...rest] = sluiceArgv(runtime, [
  `127.0.0.1:${port}`,
  `127.0.0.1:${backendPort}`,
  "--admin",
  `127.0.0.1:${admin}`,
  "--log-level",
  "warn",
  "--workers",
  workers,
]);
const proxy = spawn(command, rest, { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
await waitForPort(port);
// The admin server starts once every listener thread has: the port answers as soon as the first one binds it.
await waitForPort(admin);
await new Promise((r) => setTimeout(r, 500));
const baseline = treeRss(proxy.pid!);

const sockets: net.Socket[] = [];
let errors = 0;
const started = Date.now();
for (let i = 0; i < count; i += 250) {
  await Promise.all(Array.from({ length: Math.min(250, count - i) }, () =>
    new Promise<void>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => resolve());
      s.on("error", () => {
        errors++;
        resolve();
      });
      sockets.push(s);
    })));
}
let connected = 0;
for (let i = 0; i < 100 && connected < count - errors; i++) {
  connected = await backendCount();
  if (connected < count - errors) await new Promise((r) => setTimeout(r, 100));
}
const openSeconds = (Date.now() - started) / 1000;
await new Promise((r) => setTimeout(r, 2000));
const rss = treeRss(proxy.pid!);

// Prove a sample of the idle connections still carries bytes both ways.
const sample = sockets.filter((_, i) => i % Math.ceil(count / 100) === 0);
const echoed = await Promise.all(sample.map((s) =>
  new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    s.once("data", (d) => {
      clearTimeout(timer);
      resolve(d.toString() === "ping");
    });
    s.write("ping");
  })
));

console.log(
  `| runtime | workers | idle connections | errors | opened in | proxy RSS before | proxy RSS with them | per connection | sample echo |`,
);
console.log(`| --- | --- | --- | --- | --- | --- | --- | --- | --- |`);
console.log(
  `| ${runtime} | ${workers} | ${connected} | ${errors} | ${openSeconds.toFixed(1)} s | ${
    (baseline / MiB).toFixed(0)
  } MiB | ${(rss / MiB).toFixed(0)} MiB | ${((rss - baseline) / connected / 1024).toFixed(1)} KiB | ${
    echoed.filter(Boolean).length
  }/${sample.length} |`,
);

for (const s of sockets) s.destroy();
proxy.kill("SIGTERM");
backend.kill("SIGKILL");
await new Promise((r) => setTimeout(r, 500));
process.exit(0);
