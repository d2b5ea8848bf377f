/**
 * The UDP loads: DNS queries from dnsperf, answered by a local dnsmasq that
 * knows one zone (`bench.test`, every name 192.0.2.1) and asks no upstream.
 *
 * - `dns udp`: dnsperf as it runs by default plus `-c 4`: four client sockets,
 *   up to 100 queries in flight, so through a proxy a few long-lived sessions.
 * - `dns udp 1/query`: the same load, with the forwarder ending a session
 *   after each reply (Sluice `responses = 1`, nginx `proxy_responses 1`), as
 *   a DNS deployment would; `direct` is the same number.
 *
 * @module
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { freePort, have, type Running, waitForDns } from "./forwarders.ts";
import type { Load, Measurement } from "./loads.ts";

/** Client sockets dnsperf sends from (`-c`); each is one session through a proxy unless sessions end per reply. */
export const DNS_CLIENTS = 4;
/** Seconds dnsperf waits for an answer before it counts a query lost (`-t`) and frees its slot of the 100 in flight. */
export const DNS_TIMEOUT = 1;
/** Distinct names in the query file (all answered from dnsmasq's `--address`, no cache involved). */
const NAMES = 10_000;

/** Parses dnsperf's statistics: answered queries/s and the share lost. */
export function parseDnsperf(out: string): Measurement {
  const num = (label: string) => Number(out.match(new RegExp(`${label}:\\s+([\\d.]+)`))?.[1]);
  const qps = num("Queries per second");
  const sent = num("Queries sent");
  const lost = num("Queries lost");
  if (!Number.isFinite(qps) || !Number.isFinite(sent)) throw new Error(`dnsperf: no statistics in output:\n${out}`);
  // Answers other than NOERROR (dnsmasq answers every bench.test name) count as errors.
  const codes = out.match(/Response codes:\s+(.*)/)?.[1] ?? "";
  const bad = [...codes.matchAll(/(\w+) (\d+) \(/g)].filter((m) => m[1] !== "NOERROR").reduce(
    (n, m) => n + Number(m[2]),
    0,
  );
  return { value: qps, lost: sent > 0 ? (lost / sent) * 100 : 0, errors: bad };
}

/** A DNS load through a forwarder that ends sessions after `responses` replies (0: never). */
export function dnsperf(responses: number): Load {
  return {
    name: responses > 0 ? `dns udp ${responses}/query` : "dns udp",
    unit: "q/s",
    backend: "dns",
    mode: { protocol: "udp", responses },
    missing: () =>
      !have("dnsperf")
        ? "dnsperf not installed (apt-get install dnsperf)"
        : !have("dnsmasq")
        ? "dnsmasq not installed (apt-get install dnsmasq-base)"
        : undefined,
    async run(port, seconds) {
      const dir = mkdtempSync(join(tmpdir(), "sluice-bench-dns-"));
      try {
        const file = join(dir, "queries.txt");
        writeFileSync(file, Array.from({ length: NAMES }, (_, i) => `q${i}.bench.test A\n`).join(""));
        const args = ["-s", "127.0.0.1", "-p", String(port), "-d", file, "-l", String(seconds)];
        args.push("-c", String(DNS_CLIENTS), "-t", String(DNS_TIMEOUT));
        const out = await new Promise<string>((resolve, reject) =>
          execFile(
            "dnsperf",
            args,
            { timeout: (seconds + 20) * 1000, maxBuffer: 16 << 20 },
            (error, stdout, stderr) => {
              if (error) reject(new Error(`dnsperf: ${error.message.split("\n")[0]} ${stderr}`.trim()));
              else resolve(stdout);
            },
          )
        );
        return parseDnsperf(out);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * dnsmasq answering `*.bench.test` with 192.0.2.1 on 127.0.0.1 (UDP and
 * TCP), no upstream, no cache, no hosts file, no logging; kept for the whole
 * run, single-threaded as dnsmasq is.
 */
export async function startDnsBackend(): Promise<Running> {
  const port = await freePort();
  const child = spawn("dnsmasq", [
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    `--port=${port}`,
    "--listen-address=127.0.0.1",
    "--bind-interfaces",
    "--no-resolv",
    "--no-hosts",
    "--address=/bench.test/192.0.2.1",
    "--cache-size=0",
    "--pid-file=",
    "--log-facility=/dev/null",
  ], { stdio: "ignore", detached: true });
  try {
    await waitForDns(port, 10_000, child);
  } catch (error) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch { /* gone */ }
    throw error;
  }
  return {
    port,
    pid: child.pid,
    stop: () => Promise.resolve(void process.kill(-child.pid!, "SIGKILL")),
  };
}
