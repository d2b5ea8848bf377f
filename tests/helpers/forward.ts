/**
 * A built Sluice (the standalone binary, the installed npm command) tried the
 * way an operator would: quick mode with two worker threads in front of a
 * backend, ten exchanges, then SIGTERM and exit 0.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { exchange, replyAfterRequest, startServer } from "./net.ts";

const LISTENING = /listener\.start listener=\S+ address=127\.0\.0\.1:(\d+)/g;

/**
 * Starts `command` forwarding to a fresh backend with `--workers 2`, checks both threads listen on one port and
 * that bytes go through, calls `whileRunning` with its pid, then stops it with SIGTERM and expects exit 0.
 */
export async function forwardsWithTwoWorkers(
  command: string,
  options: { cwd: string; env?: NodeJS.ProcessEnv; whileRunning?: (pid: number) => void },
): Promise<void> {
  const backend = await startServer(replyAfterRequest("pong"));
  const child = spawn(command, ["127.0.0.1:0", `127.0.0.1:${backend.port}`, "--admin", "off", "--workers", "2"], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    // Wait for what is asserted: the main thread's line and both workers' lines, which come from other threads
    // and may arrive after it. A runtime that cannot share ports says so at once (workers.unsupported).
    const deadline = Date.now() + 15_000;
    const listening = () => [...stderr.matchAll(LISTENING)].map((m) => Number(m[1]));
    const shared = () => /workers\.start workers=2/.test(stderr) && listening().length >= 2;
    while (!shared() && !/workers\.unsupported/.test(stderr)) {
      assert.ok(Date.now() < deadline, `${command} did not start; stderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(shared(), `both worker threads listen; stderr:\n${stderr}`);
    const ports = listening();
    assert.equal(ports[0], ports[1], "on the same port");
    for (let i = 0; i < 10; i++) assert.equal(await exchange(ports[0], "ping"), "pong");
    options.whileRunning?.(child.pid!);
    process.kill(child.pid!, "SIGTERM");
    assert.equal(await exited, 0);
    assert.match(stderr, /shutdown\.done/);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await backend.close();
  }
}
