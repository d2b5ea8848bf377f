/**
 * Everything the harness can put between the load generator and the backend:
 * nothing (`direct`), Sluice on each runtime, the minimal pipe proxy of each
 * runtime, and the peers (HAProxy, nginx stream, socat) when installed.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "node_modules/.bin");

/** A forwarder listening on `port` in front of the target. */
export interface Running {
  readonly port: number;
  /** Root of its process tree; undefined for `direct`. */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export interface Forwarder {
  readonly name: string;
  /** Why it cannot run here, or undefined when it can. */
  missing(): string | undefined;
  start(targetPort: number): Promise<Running>;
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

/** True when `command` is on PATH. */
export function have(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a child process and waits for its port; `stop()` ends the whole process group.
 * Its standard error goes to a file, as a deployed proxy's log would: reading
 * it through a pipe would spend harness CPU on the cores the load shares.
 */
async function launch(argv: string[], port: number, options: { cwd?: string } = {}): Promise<Running> {
  const logDir = mkdtempSync(join(tmpdir(), "sluice-bench-log-"));
  const logFile = join(logDir, "stderr.log");
  const stderrFd = openSync(logFile, "w");
  const child = spawn(argv[0], argv.slice(1), {
    cwd: options.cwd ?? ROOT,
    stdio: ["ignore", "ignore", stderrFd],
    detached: true,
  });
  closeSync(stderrFd);
  const cleanUp = () => rmSync(logDir, { recursive: true, force: true });
  try {
    await waitForPort(port, 15_000, child);
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
  ) => [process.execPath, ...flags, "--import", "tsx", file, ...args],
  deno: (file: string, args: string[]) => [join(BIN, "deno"), "run", "-A", file, ...args],
  bun: (file: string, args: string[]) => [join(BIN, "bun"), file, ...args],
};
/** A runtime the harness can run TypeScript on. */
export type RuntimeName = keyof typeof runtimes;

/** argv that runs Sluice's mod.ts (of this checkout, or of `root`) on `runtime` the way the README says to. */
export function sluiceArgv(runtime: RuntimeName, args: string[], root = ROOT): string[] {
  return runtimes[runtime](join(root, "mod.ts"), args, NODE_FLAGS);
}

/**
 * Sluice from mod.ts with its normal features on: stats, admin server, info
 * logs (to a file). With `root`, the mod.ts of another checkout (`--baseline`),
 * so an old and a new version are measured in one run.
 */
export function sluice(runtime: RuntimeName, workers = 1, root?: { dir: string; label: string }): Forwarder {
  const base = root ? `${root.label}-${runtime}` : `sluice-${runtime}`;
  return {
    name: workers > 1 ? `${base} ×${workers}` : base,
    missing: () =>
      !existsSync(runtimes[runtime]("", [])[0])
        ? `${runtime} not installed`
        : root && !existsSync(join(root.dir, "mod.ts"))
        ? `no mod.ts in ${root.dir}`
        : undefined,
    async start(target) {
      const [port, admin] = [await freePort(), await freePort()];
      const args = [
        `127.0.0.1:${port}`,
        `127.0.0.1:${target}`,
        "--admin",
        `127.0.0.1:${admin}`,
        "--workers",
        String(workers),
      ];
      return launch(sluiceArgv(runtime, args, root?.dir), port, { cwd: root?.dir });
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

function nginxStream(workers: number): Forwarder {
  return {
    name: `nginx-stream ×${workers}`,
    missing: () =>
      !have("nginx")
        ? "nginx not installed (apt-get install nginx libnginx-mod-stream)"
        : !existsSync("/usr/lib/nginx/modules/ngx_stream_module.so")
        ? "libnginx-mod-stream not installed"
        : undefined,
    async start(target) {
      const port = await freePort();
      const dir = scratchDir();
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
          // Without proxy_half_close nginx closes on the first FIN; a fair peer in a half-close world needs it.
          `  server { listen 127.0.0.1:${port}; proxy_pass 127.0.0.1:${target}; proxy_half_close on; }`,
          "}",
          "",
        ].join("\n"),
      );
      return launch(["nginx", "-p", dir, "-c", join(dir, "nginx.conf")], port);
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
  sluiceBinary(),
  pipe("bun"),
  pipe("deno"),
  pipe("node"),
  haproxy(1),
  haproxy(2),
  nginxStream(2),
  socat(),
];
