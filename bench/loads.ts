/**
 * The loads: bulk throughput with iperf3 (1 and 8 streams), small HTTP
 * requests with wrk (keep-alive, and a new connection per request) and DNS
 * over UDP with dnsperf (`./udp.ts`), plus the backends they run against.
 * Every load is bounded in time.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ForwardMode, freePort, have, NODE, type Running, waitForPort } from "./forwarders.ts";
import { dnsperf } from "./udp.ts";
import { spawn } from "node:child_process";
import process from "node:process";

/** One measurement of one load through one forwarder. */
export interface Measurement {
  /** Gbit/s for throughput loads, requests/s for HTTP loads, answered queries/s for DNS loads. */
  value: number;
  /** DNS loads: queries sent but not answered within dnsperf's timeout, in percent. */
  lost?: number;
  /** Latency percentiles in ms (HTTP loads). */
  p50?: number;
  p99?: number;
  /** Socket errors or non-2xx responses reported by the load generator. */
  errors: number;
}

export interface Load {
  readonly name: string;
  readonly unit: "Gbit/s" | "req/s" | "q/s";
  /** Which backend it needs. */
  readonly backend: "iperf3" | "http" | "dns";
  /** What the forwarder must carry, and how (UDP `responses`); only forwarders that carry it run it. */
  readonly mode: ForwardMode;
  missing(): string | undefined;
  run(port: number, seconds: number): Promise<Measurement>;
}

function exec(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      // iperf3 -J reports its own errors in the JSON on stdout.
      const reported = stdout.match(/"error":\s*"([^"]+)"/)?.[1];
      if (error) reject(new Error(`${command}: ${reported ?? error.message.split("\n")[0]} ${stderr}`.trim()));
      else resolve(stdout);
    });
  });
}

function iperf(streams: number): Load {
  return {
    name: streams === 1 ? "1 stream" : `${streams} streams`,
    unit: "Gbit/s",
    backend: "iperf3",
    mode: { protocol: "tcp" },
    missing: () => (have("iperf3") ? undefined : "iperf3 not installed (apt-get install iperf3)"),
    async run(port, seconds) {
      // iperf3's server takes a moment to finish the previous test; one retry after a pause covers it.
      for (let attempt = 1;; attempt++) {
        try {
          const out = await exec("iperf3", [
            "-c",
            "127.0.0.1",
            "-p",
            String(port),
            "-t",
            String(seconds),
            "-P",
            String(streams),
            "-J",
          ], (seconds + 20) * 1000);
          return { value: JSON.parse(out).end.sum_received.bits_per_second / 1e9, errors: 0 };
        } catch (error) {
          if (attempt === 2) throw error;
          await new Promise((r) => setTimeout(r, 1500));
        }
      }
    },
  };
}

/** Parses wrk's text report (with --latency). */
export function parseWrk(out: string): Measurement {
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  if (!Number.isFinite(rps)) throw new Error(`wrk: no Requests/sec in output:\n${out}`);
  const ms = (label: string) => {
    const m = out.match(new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)`, "m"));
    if (!m) return undefined;
    return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
  };
  const socketErrors = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const non2xx = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((n, v) => n + Number(v), 0) : 0);
  return { value: rps, p50: ms("50"), p99: ms("99"), errors };
}

function wrk(keepAlive: boolean): Load {
  return {
    name: keepAlive ? "keep-alive" : "new conn per req",
    unit: "req/s",
    backend: "http",
    mode: { protocol: "tcp" },
    missing: () => (have("wrk") ? undefined : "wrk not installed (apt-get install wrk)"),
    async run(port, seconds) {
      const args = ["-t", "2", "-c", "50", "-d", `${seconds}s`, "--latency", "--timeout", "5s"];
      if (!keepAlive) args.push("-H", "Connection: close");
      return parseWrk(await exec("wrk", [...args, `http://127.0.0.1:${port}/`], (seconds + 20) * 1000));
    },
  };
}

/** The loads, in table order: TCP, then UDP. */
export const LOADS: Load[] = [iperf(1), iperf(8), wrk(true), wrk(false), dnsperf(0), dnsperf(1)];

/** An iperf3 server, kept for the whole run. */
export async function startIperfServer(): Promise<Running> {
  const port = await freePort();
  const child = spawn("iperf3", ["-s", "-p", String(port)], { stdio: "ignore" });
  await waitForPort(port, 10_000, child);
  return { port, pid: child.pid, stop: () => Promise.resolve(void child.kill("SIGKILL")) };
}

/**
 * A small HTTP backend: nginx answering `hello` from memory (one worker, so it
 * leaves cores to the forwarder), or a Node http server when nginx is missing.
 */
export async function startHttpBackend(): Promise<Running & { kind: string }> {
  const port = await freePort();
  if (have("nginx")) {
    const dir = mkdtempSync(join(tmpdir(), "sluice-bench-http-"));
    writeFileSync(
      join(dir, "nginx.conf"),
      [
        "worker_processes 1;",
        "daemon off;",
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log;`,
        "events { worker_connections 65536; }",
        "http {",
        "  access_log off;",
        "  keepalive_requests 10000000;",
        `  server { listen 127.0.0.1:${port} backlog=4096; location / { return 200 "hello\\n"; } }`,
        "}",
        "",
      ].join("\n"),
    );
    const child = spawn("nginx", ["-p", dir, "-c", join(dir, "nginx.conf")], { stdio: "ignore", detached: true });
    await waitForPort(port, 10_000, child);
    return {
      kind: "nginx",
      port,
      pid: child.pid,
      stop: () => {
        process.kill(-child.pid!, "SIGKILL");
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    };
  }
  const child = spawn(NODE, [
    "-e",
    `require("http").createServer((q, s) => s.end("hello\\n")).listen(${port}, "127.0.0.1")`,
  ], { stdio: "ignore" });
  await waitForPort(port, 10_000, child);
  return { kind: "node http", port, pid: child.pid, stop: () => Promise.resolve(void child.kill("SIGKILL")) };
}
