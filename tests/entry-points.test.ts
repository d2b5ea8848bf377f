/**
 * Each ecosystem's own way to start Sluice, run for real: `npm start` under
 * Node, `deno task start` under Deno, `bun run start` under Bun. The demo
 * binds where it is told (`-- LISTEN`), so the test stays on port 0.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runSluice, runtimeName } from "./helpers/spawn.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "node_modules/.bin");
const ARGS = ["127.0.0.1:0", "--admin", "127.0.0.1:0"];

/** The start command of this runtime's ecosystem, with `ARGS` passed through to the demo. */
const START: Record<typeof runtimeName, string[]> = {
  node: ["npm", "start", "--", ...ARGS],
  deno: [join(BIN, "deno"), "task", "start", ...ARGS],
  bun: [join(BIN, "bun"), "run", "start", ...ARGS],
};

describe(`entry points on ${runtimeName}`, () => {
  test(`\`${START[runtimeName].slice(0, 3).join(" ").replace(BIN + "/", "")}\` starts the demo, which serves`, async () => {
    const [command, ...args] = START[runtimeName];
    // Its own process group: npm, deno task and bun run each start the runtime as a child, and all must stop.
    const child = spawn(command, args, {
      cwd: ROOT,
      detached: true,
      env: { ...process.env, PATH: `${BIN}:${process.env.PATH}`, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d));
    child.stderr!.on("data", (d: Buffer) => (err += d));
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    const group = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // Already gone.
      }
    };
    try {
      const deadline = Date.now() + 30_000;
      let proxy: RegExpMatchArray | null = null;
      let api: RegExpMatchArray | null = null;
      while (!(proxy && api)) {
        assert.ok(Date.now() < deadline, `the demo did not start; stdout:\n${out}\nstderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
        proxy = out.match(/proxy:\s+(http:\/\/127\.0\.0\.1:\d+\/)/);
        api = out.match(/API:\s+(http:\/\/127\.0\.0\.1:\d+\/api\/v1\/stats)/);
      }
      const reply = await fetch(proxy![1]);
      assert.match(await reply.text(), /^hello from demo-\d/);
      const stats = await (await fetch(api![1])).json();
      assert.match(stats.runtime, new RegExp(`^${runtimeName} `), "the task runs Sluice on its own runtime");
      assert.ok(stats.total.connections_total >= 1, "connections went through the proxy");
    } finally {
      group("SIGTERM");
      const stopped = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(r, 10_000, false))]);
      if (!stopped) group("SIGKILL");
      await exited;
    }
  });

  test("--demo takes at most one LISTEN address", async () => {
    const { code, stderr } = await runSluice(["--demo", "127.0.0.1:0", "127.0.0.1:1"]);
    assert.equal(code, 2);
    assert.match(stderr, /--demo takes no configuration file and at most one LISTEN address/);
  });
});
