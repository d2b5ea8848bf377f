/**
 * Out of file descriptors, through the real entry point under `ulimit -n`:
 * the process survives (Deno's HTTP server used to end it), the backend is not
 * blamed for our failure, the episode is logged once, `/healthz` says 503
 * while it lasts where it can answer, and everything works again once
 * descriptors free up.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { startServer, type TestServer, waitFor } from "./helpers/net.ts";
import { runtimeName, type SluiceProcess, startSluice } from "./helpers/spawn.ts";

const FILE_LIMIT = 64;
const CLIENTS = 60;

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** GET on the admin server with a deadline; undefined when it could not be reached in time. */
async function get(port: number, path: string, ms = 1500): Promise<{ status: number; body: string } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(ms) });
    return { status: response.status, body: await response.text() };
  } catch {
    return undefined;
  }
}

/** The value of one sample line in Prometheus text. */
function sample(metrics: string, name: string, labels: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  assert.ok(line, `no ${name} with ${labels}`);
  return Number(line.split(" ").pop());
}

describe(`out of file descriptors on ${runtimeName}`, () => {
  test("the process survives, blames no backend, logs one episode and recovers", async () => {
    let accepted = 0;
    // Holds every connection open until its client leaves, as a server waiting for a request would.
    const backend: TestServer = await startServer((socket) => {
      accepted++;
      socket.on("end", () => socket.end());
    });
    cleanups.push(() => backend.close());
    const proc: SluiceProcess = startSluice(["127.0.0.1:0", `127.0.0.1:${backend.port}`, "--admin", "127.0.0.1:0"], {
      fileLimit: FILE_LIMIT,
    });
    cleanups.push(() => (proc.kill("SIGKILL"), proc.exited));
    const port = Number((await proc.waitForLog(/listener\.start .*address=127\.0\.0\.1:(\d+)/))[1]);
    const admin = Number((await proc.waitForLog(/admin\.start address=127\.0\.0\.1:(\d+)/))[1]);

    const clients: net.Socket[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const socket = net.connect({ host: "127.0.0.1", port });
      socket.on("error", () => {});
      clients.push(socket);
    }
    assert.ok(await waitFor(() => accepted >= 10, 10_000), "connections reached the backend");
    await new Promise((r) => setTimeout(r, 500));
    // Admin requests while out of descriptors: any answer (or none) is fine; ending the process is not.
    const during = await get(admin, "/healthz");
    await get(admin, "/api/v1/stats");
    for (const socket of clients) socket.destroy();

    let metrics: string | undefined;
    const deadline = Date.now() + 15_000;
    while (metrics === undefined && Date.now() < deadline) metrics = (await get(admin, "/metrics"))?.body;
    assert.ok(metrics, `the admin server did not recover; stderr:\n${proc.stderr().slice(-2000)}`);
    const labels = `backend="127.0.0.1:${backend.port}"`;
    assert.equal(sample(metrics, "sluice_upstream_ejections_total", labels), 0, "no ejection for a failure of ours");
    assert.equal(sample(metrics, "sluice_upstream_up", labels), 1);
    assert.equal(sample(metrics, "sluice_upstream_connect_errors_total", `${labels},reason="refused"`), 0);
    const local = sample(metrics, "sluice_upstream_connect_errors_total", `${labels},reason="local"`);
    const episodes = proc.stderr().match(/resources\.exhausted/g)?.length ?? 0;
    assert.ok(episodes <= 1, `one log line per episode, got ${episodes}`);
    if (local > 0) assert.equal(episodes, 1, "failed connects of ours start a logged episode");
    if (during?.status === 503) assert.match(during.body, /out of file descriptors/);

    // Descriptors free up as the closed sessions are torn down; a client arriving before that may still
    // be turned away (Node resets it itself), so a few tries, each bounded.
    const before = accepted;
    for (let attempt = 0; attempt < 5 && accepted === before; attempt++) {
      const fresh = net.connect({ host: "127.0.0.1", port });
      fresh.on("error", () => {});
      cleanups.push(() => fresh.destroy());
      await waitFor(() => accepted > before, 2000);
    }
    assert.ok(accepted > before, `a new client is forwarded again; stderr:\n${proc.stderr().slice(-1500)}`);
    assert.equal(proc.child.exitCode, null, "still running");
  });
});
