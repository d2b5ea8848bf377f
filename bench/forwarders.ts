/**
 * Everything the harness can put between the load generator and the backend:
 * nothing (`direct`), Sluice on each runtime, the minimal pipe proxy of each
 * runtime, and the peers (HAProxy, nginx stream, socat) when installed.
 * TCP loads go through all of them; UDP loads only through those that
 * forward datagrams (`direct`, Sluice, nginx stream).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as dgram from "node:dgram";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "node_modules/.bin");
/** Node 24 from npm, whichever runtime runs the harness (`deno task bench`, `bun run bench`). */
export const NODE = join(BIN, "node");

/** A forwarder listening on `port` in front of the target. */
export interface Running {
  readonly port: number;
  /** Root of its process tree; undefined for `direct`. */
  readonly pid: number | undefined;
  /**
   * After a load, before `stop()`: anything worth a note (warn/error lines in
   * its log; for Sluice on UDP its session and drop counters), or undefined.
   */
  report?(): Promise<string | undefined>;
  stop(): Promise<void>;
}

export type Protocol = "tcp" | "udp";

/** What a load asks of the forwarder in front of its backend. */
export interface ForwardMode {
  readonly protocol: Protocol;
  /**
   * UDP: replies after which the forwarder ends a session (Sluice's
   * `responses`, nginx's `proxy_responses`); 0 or absent: no limit.
   */
  readonly responses?: number;
}

const TCP: ForwardMode = { protocol: "tcp" };

export interface Forwarder {
  readonly name: string;
  /** What it forwards; `["tcp"]` when absent. */
  readonly protocols?: readonly Protocol[];
  /** Why it cannot run here, or undefined when it can. */
  missing(): string | undefined;
  start(targetPort: number, mode?: ForwardMode): Promise<Running>;
}

/** Whether `forwarder` can carry a load of `protocol`. */
export function forwards(forwarder: Forwarder, protocol: Protocol): boolean {
  return (forwarder.protocols ?? ["tcp"]).includes(protocol);
}

/** A free loopback port (bound and released; good enough on an idle machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a connection; throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 15_000, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A DNS query (id 0x5e1c, recursion desired) for `name`, type A. */
export function dnsQuery(name: string): Uint8Array {
  const labels = name.split(".").flatMap((label) => [label.length, ...new TextEncoder().encode(label)]);
  return new Uint8Array([0x5e, 0x1c, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
}

/**
 * Resolves once a DNS query to 127.0.0.1:port (UDP) is answered with a
 * response of the same id: the forwarder and the DNS backend behind it are
 * both up. Throws after `timeoutMs`.
 */
export async function waitForDns(port: number, timeoutMs = 15_000, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const socket = dgram.createSocket("udp4");
  const answered = new Promise<void>((resolve) =>
    socket.on("message", (msg) => {
      if (msg.length >= 12 && msg[0] === 0x5e && msg[1] === 0x1c && (msg[2] & 0x80) !== 0) resolve();
    })
  );
  socket.on("error", () => {/* ICMP unreachable while nothing listens yet: retried */});
  try {
    for (;;) {
      if (child && child.exitCode !== null) {
        throw new Error(`exited with ${child.exitCode} before answering on ${port}`);
      }
      socket.send(dnsQuery("ready.bench.test"), port, "127.0.0.1");
      const ok = await Promise.race([
        answered.then(() => true),
        new Promise<boolean>((r) => setTimeout(r, 100, false)),
      ]);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`no DNS answer on udp/${port} after ${timeoutMs}ms`);
    }
  } finally {
    socket.close();
  }
}

/** True when `command` is on PATH. */
export function have(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** How {@linkcode launch} knows a forwarder is ready. */
export interface LaunchOptions {
  cwd?: string;
  /** `tcp` (default): the port accepts a connection; `dns`: a DNS query to the UDP port is answered (end to end). */
  ready?: "tcp" | "dns";
  /** Further log files to scan for problems (nginx's error_log). */
  logs?: string[];
  /** A scratch directory (configuration files) removed on stop. */
  scratch?: string;
  /** More to say after a load (Sluice's counters); joined to the log scan. */
  report?: () => Promise<string | undefined>;
  /**
   * A line the forwarder's standard error must also show before it is ready: with worker threads the port
   * answers once the first thread has bound it, and on Node the next one starts most of a second later.
   */
  readyLog?: RegExp;
}

/** Waits until `file` has a line matching `pattern`. */
async function waitForLog(file: string, pattern: RegExp, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(readFileSync(file, "utf8"))) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} in its log after ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Lines of a log that look like trouble: Sluice's `warn`/`error` level, nginx's `[error]` and worse. */
const PROBLEM = /^\S+\s+(warn|error)\s|\[(warn|error|crit|alert|emerg)\]/;

function logProblems(files: string[]): string | undefined {
  const lines: string[] = [];
  for (const file of files) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) if (PROBLEM.test(line)) lines.push(line);
  }
  if (lines.length === 0) return undefined;
  return `${lines.length} warn/error log line(s), first: ${lines[0].slice(0, 300)}`;
}

/**
 * Starts a child process and waits for its port; `stop()` ends the whole process group.
 * Its standard error goes to a file, as a deployed proxy's log would: reading
 * it through a pipe would spend harness CPU on the cores the load shares.
 */
async function launch(argv: string[], port: number, options: LaunchOptions = {}): Promise<Running> {
  const logDir = mkdtempSync(join(tmpdir(), "sluice-bench-log-"));
  const logFile = join(logDir, "stderr.log");
  const stderrFd = openSync(logFile, "w");
  const child = spawn(argv[0], argv.slice(1), {
    cwd: options.cwd ?? ROOT,
    stdio: ["ignore", "ignore", stderrFd],
    detached: true,
  });
  closeSync(stderrFd);
  const cleanUp = () => {
    rmSync(logDir, { recursive: true, force: true });
    if (options.scratch) rmSync(options.scratch, { recursive: true, force: true });
  };
  try {
    if (options.ready === "dns") await waitForDns(port, 15_000, child);
    else await waitForPort(port, 15_000, child);
    if (options.readyLog) await waitForLog(logFile, options.readyLog, 15_000, child);
  } catch (error) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch { /* gone */ }
    const stderr = readFileSync(logFile, "utf8").slice(-4000);
    cleanUp();
    throw new Error(`${argv.join(" ")}: ${(error as Error).message}\n${stderr}`);
  }
  return {
    port,
    pid: child.pid,
    async report() {
      const counters = await options.report?.().catch((e) => `counters unavailable: ${(e as Error).message}`);
      const problems = logProblems([logFile, ...(options.logs ?? [])]);
      const parts = [counters, problems].filter(Boolean);
      return parts.length ? parts.join("; ") : undefined;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve(cleanUp());
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, "SIGKILL");
          } catch { /* gone */ }
        }, 3000);
        child.once("exit", () => {
          clearTimeout(timer);
          cleanUp();
          resolve();
        });
        try {
          process.kill(-child.pid!, "SIGTERM");
        } catch {
          cleanUp();
          resolve();
        }
      }),
  };
}

/**
 * How Sluice is run on Node (README): the old generation starts at 64 MiB, or
 * write buffers promoted under load trigger a full GC ~30 times a second at
 * 10 Gbit/s. The pipe floor does not need it.
 */
export const NODE_FLAGS = ["--initial-old-space-size=64"];

const runtimes = {
  node: (
    file: string,
    args: string[],
    flags: string[] = [],
  ) => [NODE, ...flags, file, ...args],
  deno: (file: string, args: string[]) => [join(BIN, "deno"), "run", "-A", file, ...args],
  bun: (file: string, args: string[]) => [join(BIN, "bun"), file, ...args],
};
/** A runtime the harness can run TypeScript on. */
export type RuntimeName = keyof typeof runtimes;

/** argv that runs Sluice's mod.ts (of this checkout, or of `root`) on `runtime` the way the README says to. */
export function sluiceArgv(runtime: RuntimeName, args: string[], root = ROOT): string[] {
  return runtimes[runtime](join(root, "mod.ts"), args, NODE_FLAGS);
}

/** A summary of a Sluice UDP listener's counters from its admin `/metrics`, or undefined when all is well. */
async function sluiceUdpCounters(admin: number): Promise<string | undefined> {
  // Worker threads publish their counters every 250 ms: let the last of the load arrive.
  await new Promise((r) => setTimeout(r, 600));
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const sum = (pattern: RegExp) =>
    text.split("\n").filter((l) => pattern.test(l)).reduce((n, l) => n + Number(l.split(" ").pop()), 0);
  const sessions = sum(/^sluice_upstream_connections_total\{/);
  const toUpstream = sum(/^sluice_udp_datagrams_total\{.*direction="to_upstream"/);
  const toClient = sum(/^sluice_udp_datagrams_total\{.*direction="to_client"/);
  const drops = text.split("\n").filter((l) => /^sluice_udp_dropped_datagrams_total\{/.test(l) && !/ 0$/.test(l))
    .map((l) => `${l.match(/reason="([^"]+)"/)?.[1]} ${l.split(" ").pop()}`);
  const unanswered = toUpstream - toClient;
  // A DNS query is answered once: more queries relayed than replies means replies were lost in Sluice or the backend.
  if (drops.length === 0 && unanswered <= 0) return undefined;
  return `Sluice counted ${sessions} sessions, ${toUpstream} datagrams to upstream, ${toClient} to clients (${unanswered} unanswered)${
    drops.length ? `, dropped: ${drops.join(", ")}` : ""
  }`;
}

/** A TOML string literal. */
const tomlString = (text: string) => JSON.stringify(text);

/**
 * Sluice from mod.ts with its normal features on: stats, admin server, info
 * logs (to a file). With `root`, the mod.ts of another checkout (`--baseline`),
 * so an old and a new version are measured in one run. TCP and UDP, quick
 * mode (`--udp` for UDP); a UDP load with `responses` runs from a
 * configuration file, which quick mode cannot express.
 */
export function sluice(runtime: RuntimeName, workers = 1, root?: { dir: string; label: string }): Forwarder {
  const base = root ? `${root.label}-${runtime}` : `sluice-${runtime}`;
  // Every thread listening, not only the first (a checkout without workers on this runtime says unsupported).
  const readyLog = workers > 1 ? /workers\.(start|unsupported)/ : undefined;
  return {
    name: workers > 1 ? `${base} ×${workers}` : base,
    // The baseline checkout may predate UDP.
    protocols: root && !existsSync(join(root.dir, "src/proxy/udp.ts")) ? ["tcp"] : ["tcp", "udp"],
    missing: () =>
      !existsSync(runtimes[runtime]("", [])[0])
        ? `${runtime} not installed`
        : root && !existsSync(join(root.dir, "mod.ts"))
        ? `no mod.ts in ${root.dir}`
        : undefined,
    async start(target, mode = TCP) {
      const [port, admin] = [await freePort(), await freePort()];
      if (mode.protocol === "udp" && (mode.responses ?? 0) > 0) {
        const scratch = scratchDir();
        const config = join(scratch, "sluice.toml");
        writeFileSync(
          config,
          [
            `workers = ${workers}`,
            "[admin]",
            `listen = ${tomlString(`127.0.0.1:${admin}`)}`,
            "[[listeners]]",
            'protocol = "udp"',
            `listen = ${tomlString(`127.0.0.1:${port}`)}`,
            `responses = ${mode.responses}`,
            `backends = [{ address = ${tomlString(`127.0.0.1:${target}`)} }]`,
            "",
          ].join("\n"),
        );
        return launch(sluiceArgv(runtime, ["-c", config], root?.dir), port, {
          cwd: root?.dir,
          ready: "dns",
          readyLog,
          scratch,
          report: () => sluiceUdpCounters(admin),
        });
      }
      const args = [
        `127.0.0.1:${port}`,
        `127.0.0.1:${target}`,
        "--admin",
        `127.0.0.1:${admin}`,
        "--workers",
        String(workers),
        ...(mode.protocol === "udp" ? ["--udp"] : []),
      ];
      return launch(sluiceArgv(runtime, args, root?.dir), port, {
        cwd: root?.dir,
        ready: mode.protocol === "udp" ? "dns" : "tcp",
        readyLog,
        report: mode.protocol === "udp" ? () => sluiceUdpCounters(admin) : undefined,
      });
    },
  };
}

/**
 * Sluice on `runtime` from a configuration file like quick mode's TCP
 * listener plus `[listeners.health]` connect checks every second: the A/B
 * of what health checks cost the TCP path (against `sluice-<runtime>`).
 */
function sluiceWithHealth(runtime: RuntimeName): Forwarder {
  return {
    name: `sluice-${runtime} +health`,
    missing: () => (!existsSync(runtimes[runtime]("", [])[0]) ? `${runtime} not installed` : undefined),
    async start(target) {
      const [port, admin] = [await freePort(), await freePort()];
      const scratch = scratchDir();
      const config = join(scratch, "sluice.toml");
      writeFileSync(
        config,
        [
          "[admin]",
          `listen = ${tomlString(`127.0.0.1:${admin}`)}`,
          "[[listeners]]",
          `listen = ${tomlString(`127.0.0.1:${port}`)}`,
          `backends = [{ address = ${tomlString(`127.0.0.1:${target}`)} }]`,
          'health = { type = "connect", interval = "1s" }',
          "",
        ].join("\n"),
      );
      return launch(sluiceArgv(runtime, ["-c", config]), port, { scratch });
    },
  };
}

/** The Sluice forwarders again, run from another checkout (`--baseline DIR`), named `baseline-*`. */
export function baselineForwarders(dir: string): Forwarder[] {
  const root = { dir, label: "baseline" };
  return [
    sluice("bun", 1, root),
    sluice("bun", 2, root),
    sluice("deno", 1, root),
    sluice("deno", 2, root),
    sluice("node", 1, root),
    sluice("node", 2, root),
  ];
}

/** The compiled binary (npm run compile), when built. */
function sluiceBinary(): Forwarder {
  const binary = join(ROOT, "dist/sluice");
  return {
    name: "sluice-binary",
    missing: () => (existsSync(binary) ? undefined : "dist/sluice not built (npm run compile)"),
    async start(target) {
      const [port, admin] = [await freePort(), await freePort()];
      return launch([binary, `127.0.0.1:${port}`, `127.0.0.1:${target}`, "--admin", `127.0.0.1:${admin}`], port);
    },
  };
}

function pipe(runtime: RuntimeName): Forwarder {
  return {
    name: `pipe-${runtime}`,
    missing: () => (existsSync(runtimes[runtime]("", [])[0]) ? undefined : `${runtime} not installed`),
    async start(target) {
      const port = await freePort();
      return launch(
        runtimes[runtime](join(ROOT, `bench/pipes/${runtime}-pipe.ts`), [String(port), String(target)]),
        port,
      );
    },
  };
}

function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), "sluice-bench-"));
}

function haproxy(threads: number): Forwarder {
  return {
    name: `haproxy ×${threads}`,
    missing: () => (have("haproxy") ? undefined : "haproxy not installed (apt-get install haproxy)"),
    async start(target) {
      const port = await freePort();
      const dir = scratchDir();
      const config = join(dir, "haproxy.cfg");
      writeFileSync(
        config,
        [
          "global",
          `  nbthread ${threads}`,
          "  maxconn 9000", // this machine allows 20,000 descriptors per process; HAProxy needs 2 per connection
          "defaults",
          "  mode tcp",
          "  timeout connect 5s",
          "  timeout client 1m",
          "  timeout server 1m",
          "listen bench",
          `  bind 127.0.0.1:${port}`,
          `  server s1 127.0.0.1:${target}`,
          "",
        ].join("\n"),
      );
      return launch(["haproxy", "-db", "-f", config], port);
    },
  };
}

/**
 * nginx `stream` with `workers` worker processes. TCP with
 * `proxy_half_close on`; UDP (`listen ... udp`, one socket the workers share,
 * no `reuseport`) with `proxy_responses` as the load asks and `proxy_timeout
 * 10s`. `protocols` narrows it (the ×1 variant runs on UDP loads only).
 */
function nginxStream(workers: number, protocols: readonly Protocol[] = ["tcp", "udp"]): Forwarder {
  return {
    name: `nginx-stream ×${workers}`,
    protocols,
    missing: () =>
      !have("nginx")
        ? "nginx not installed (apt-get install nginx libnginx-mod-stream)"
        : !existsSync("/usr/lib/nginx/modules/ngx_stream_module.so")
        ? "libnginx-mod-stream not installed"
        : undefined,
    async start(target, mode = TCP) {
      const port = await freePort();
      const dir = scratchDir();
      const udp = mode.protocol === "udp";
      const server = udp
        ? `  server { listen 127.0.0.1:${port} udp; proxy_pass 127.0.0.1:${target}; ${
          (mode.responses ?? 0) > 0 ? `proxy_responses ${mode.responses}; ` : ""
        }proxy_timeout 10s; }`
        // Without proxy_half_close nginx closes on the first FIN; a fair peer in a half-close world needs it.
        : `  server { listen 127.0.0.1:${port}; proxy_pass 127.0.0.1:${target}; proxy_half_close on; }`;
      writeFileSync(
        join(dir, "nginx.conf"),
        [
          "load_module /usr/lib/nginx/modules/ngx_stream_module.so;",
          `worker_processes ${workers};`,
          "daemon off;",
          `pid ${dir}/nginx.pid;`,
          `error_log ${dir}/error.log;`,
          "events { worker_connections 65536; }",
          "stream {",
          server,
          "}",
          "",
        ].join("\n"),
      );
      return launch(["nginx", "-p", dir, "-c", join(dir, "nginx.conf")], port, {
        ready: udp ? "dns" : "tcp",
        logs: [join(dir, "error.log")],
        scratch: dir,
      });
    },
  };
}

function socat(): Forwarder {
  return {
    name: "socat",
    missing: () => (have("socat") ? undefined : "socat not installed (apt-get install socat)"),
    async start(target) {
      const port = await freePort();
      return launch([
        "socat",
        `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr,backlog=4096`,
        `TCP:127.0.0.1:${target},nodelay`,
      ], port);
    },
  };
}

const direct: Forwarder = {
  name: "direct",
  protocols: ["tcp", "udp"],
  missing: () => undefined,
  start: (target) => Promise.resolve({ port: target, pid: undefined, stop: () => Promise.resolve() }),
};

/** Every forwarder, in table order. */
export const FORWARDERS: Forwarder[] = [
  direct,
  sluice("bun"),
  sluice("bun", 2),
  sluice("deno"),
  sluice("deno", 2),
  sluice("node"),
  sluice("node", 2),
  sluiceWithHealth("bun"),
  sluiceBinary(),
  pipe("bun"),
  pipe("deno"),
  pipe("node"),
  haproxy(1),
  haproxy(2),
  nginxStream(2),
  nginxStream(1, ["udp"]),
  socat(),
];
