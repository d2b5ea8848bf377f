/**
 * The standalone executable (`bun build --compile`): built once per test run
 * (under Node, the first runtime of `npm test`), then started for real.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { exchange, replyAfterRequest, startServer } from "./helpers/net.ts";
import { runtimeName } from "./helpers/spawn.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LISTENING = /listener\.start listener=\S+ address=127\.0\.0\.1:(\d+)/g;

/** Runs package.json's `compile` script with its --outfile pointed at a temporary directory. */
function build(): string {
  const out = join(mkdtempSync(join(tmpdir(), "sluice-bin-")), "sluice");
  const script: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.compile;
  const [command, ...args] = script.split(/\s+/).map((a) => (a === "dist/sluice" ? out : a));
  execFileSync(join(ROOT, "node_modules/.bin", command), args, { cwd: ROOT, stdio: "pipe" });
  return out;
}

describe(
  "standalone executable",
  { skip: runtimeName !== "node" ? "built and tested once, in the Node run" : false },
  () => {
    test("the compiled binary starts, forwards bytes with two worker threads, and exits 0 on SIGTERM", async () => {
      const binary = build();
      const backend = await startServer(replyAfterRequest("pong"));
      const child = spawn(binary, ["127.0.0.1:0", `127.0.0.1:${backend.port}`, "--admin", "off", "--workers", "2"], {
        cwd: tmpdir(),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr!.on("data", (d: Buffer) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      try {
        // Wait for what is asserted: the main thread's line and both workers' lines, which
        // come from other threads and may arrive after it.
        const deadline = Date.now() + 10_000;
        const listening = () => [...stderr.matchAll(LISTENING)].map((m) => Number(m[1]));
        while (!/workers\.start workers=2/.test(stderr) || listening().length < 2) {
          assert.ok(Date.now() < deadline, `the binary did not start; stderr:\n${stderr}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        const ports = listening();
        assert.equal(ports.length, 2, "each worker thread listens");
        assert.equal(ports[0], ports[1], "on the same port");
        for (let i = 0; i < 10; i++) assert.equal(await exchange(ports[0], "ping"), "pong");
        process.kill(child.pid!, "SIGTERM");
        assert.equal(await exited, 0);
        assert.match(stderr, /shutdown\.done/);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
        await backend.close();
      }
    });
  },
);
