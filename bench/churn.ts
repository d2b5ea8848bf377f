/**
 * `node --expose-gc bench/churn.ts` (or `deno run -A --v8-flags=--expose-gc bench/churn.ts`,
 * `bun bench/churn.ts`): does Sluice keep anything per connection after the
 * connection is gone? Runs Sluice in this process in front of a small
 * backend, makes rounds of short connections, and after each round forces a
 * full collection and prints the heap in use and the RSS. A heap that returns
 * to where it was means nothing is retained; RSS that stays up is then the
 * runtime's allocator keeping pages it no longer uses.
 */
import * as net from "node:net";
import process from "node:process";
import { startSluice } from "../src/compose.ts";
import { loadObject } from "../src/config/load.ts";
import { Logger } from "../src/log.ts";
import { selectRuntime } from "../src/runtime/select.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PER_ROUND = Number(process.env.PER_ROUND ?? 20_000);
const PARALLEL = 50;

function gc(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (g.Bun) g.Bun.gc(true);
  else if (g.gc) g.gc();
  else throw new Error("no gc(): run node with --expose-gc, deno with --v8-flags=--expose-gc");
}

const MiB = 1024 * 1024;
function memory(): string {
  const m = process.memoryUsage();
  return `heap used ${(m.heapUsed / MiB).toFixed(1)} MiB, rss ${(m.rss / MiB).toFixed(1)} MiB`;
}

/** One short connection: send a byte, read the reply, close. */
function once(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.end("x"));
    socket.on("data", () => {});
    socket.on("close", () => resolve());
    socket.on("error", () => {});
  });
}

const backend = net.createServer((socket) => {
  socket.on("data", (d) => socket.write(d));
  socket.on("end", () => socket.end());
  socket.on("error", () => {});
});
await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", () => resolve()));
const backendPort = (backend.address() as net.AddressInfo).port;

const loaded = loadObject({
  admin: { enabled: false },
  listeners: [{ listen: "127.0.0.1:0", backends: [{ address: `127.0.0.1:${backendPort}` }] }],
});
if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
const runtime = selectRuntime();
// Per-connection log lines go nowhere: the question is what Sluice keeps, not what a log buffer holds.
const log = new Logger({ level: "warn", format: "text" }, {
  write: () => {},
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as number),
});
const sluice = await startSluice(runtime, loaded.config, { log });
const port = sluice.listeners()[0].address.port;

gc();
console.log(`${runtime.name} ${runtime.version}: before, ${memory()}`);
for (let round = 1; round <= ROUNDS; round++) {
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next++ < PER_ROUND) await once(port);
  }));
  await new Promise((r) => setTimeout(r, 200));
  gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  const live = sluice.collector.total.active;
  console.log(`after round ${round} (${round * PER_ROUND} connections, ${live} live): ${memory()}`);
}
await sluice.shutdown();
backend.close();
