/**
 * Runs `mod.ts` as a child process under the same runtime that runs the
 * tests, so the real entry point (arguments, signals, exit codes) is what is
 * tested.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MOD = fileURLToPath(new URL("../../mod.ts", import.meta.url));

/** The name of the runtime running the tests. */
export const runtimeName: "deno" | "bun" | "node" = (globalThis as { Deno?: unknown }).Deno
  ? "deno"
  : (globalThis as { Bun?: unknown }).Bun
  ? "bun"
  : "node";

/** argv that runs mod.ts on this runtime. */
export function sluiceArgv(args: readonly string[]): string[] {
  if (runtimeName === "deno") return [process.execPath, "run", "-A", MOD, ...args];
  if (runtimeName === "bun") return [process.execPath, MOD, ...args];
  return [process.execPath, MOD, ...args];
}

/** A running Sluice child process. */
export interface SluiceProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128+signal). */
  readonly exited: Promise<number>;
  /** Waits until stderr matches `pattern`; rejects after `timeoutMs` or if the process exits first. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends a signal. */
  kill(signal?: "SIGTERM" | "SIGINT" | "SIGKILL" | "SIGHUP"): void;
}

/** Starts mod.ts with `args`, from the repository root; `fileLimit` runs it under `ulimit -n`. */
export function startSluice(args: readonly string[], options: { fileLimit?: number } = {}): SluiceProcess {
  const argv = sluiceArgv(args);
  if (options.fileLimit !== undefined) argv.unshift("sh", "-c", `ulimit -n ${options.fileLimit} && exec "$0" "$@"`);
  const [command, ...rest] = argv;
  const child = spawn(command, rest, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) => {
    child.on(
      "exit",
      (code, signal) => resolve(code ?? 128 + (signal === "SIGKILL" ? 9 : signal === "SIGTERM" ? 15 : 2)),
    );
  });
  let done = false;
  exited.then(() => (done = true));
  return {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitForLog(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = err.match(pattern);
        if (match) return match;
        if (done) throw new Error(`sluice exited before logging ${pattern}; stderr:\n${err}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; stderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    // process.kill, not child.kill: Deno's child_process then reports the signal instead of the real exit code.
    kill(signal = "SIGTERM") {
      if (done) return;
      try {
        process.kill(child.pid!, signal);
      } catch {
        // Already gone.
      }
    },
  };
}

/** Runs mod.ts to completion; resolves with exit code and output. Killed after `timeoutMs`. */
export async function runSluice(
  args: readonly string[],
  timeoutMs = 20_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = startSluice(args);
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

/** Resident set size and its high-water mark of a process, in bytes (Linux /proc). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/** Writes `text` to a fresh temporary file and returns its path. */
export function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "sluice-test-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
