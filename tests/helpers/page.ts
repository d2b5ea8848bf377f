/**
 * What the status-page tests share: Sluice in-process with an admin page and
 * two echo backends, long-lived clients from distinct loopback addresses, and
 * the Chromium driver (`tests/browser/drive.mjs`, run under Node).
 */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import { type Sluice, startSluice } from "../../src/compose.ts";
import { loadObject } from "../../src/config/load.ts";
import { formatAddress } from "../../src/net/address.ts";
import { selectRuntime } from "../../src/runtime/select.ts";
import { cleanupAfter } from "./cleanup.ts";
import { memoryLog } from "./log.ts";
import { runtimeName } from "./spawn.ts";

const DRIVE = fileURLToPath(new URL("../browser/drive.mjs", import.meta.url));

/** What the driver saw: its JSON line, read field by field by the assertions. */
// deno-lint-ignore no-explicit-any
export type Seen = Record<string, any>;

/** Registers cleanup for the calling test file; returns its page helpers. */
export function pageHarness() {
  const runtime = selectRuntime();
  const { cleanups, server } = cleanupAfter();
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

  return { start, traffic, drive };
}
