/**
 * The npm package as users get it: `npm pack` (which bundles at `prepack`),
 * then the tarball installed into a project, globally and through `npx`, each
 * giving a working `sluice` command. Packed and tested once, in the Node run.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { forwardsWithTwoWorkers } from "./helpers/forward.ts";
import { runtimeName } from "./helpers/spawn.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const VERSION: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;

/** npm and the bin's `env node` find this checkout's Node first, as under `npm test`. */
const ENV = { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}`, NO_COLOR: "1" };

/** Runs a command to its end (killed after `timeoutMs`); rejects with its output if it fails. */
function run(command: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: ENV, timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

describe("npm package", { skip: runtimeName !== "node" ? "packed and tested once, in the Node run" : false }, () => {
  let dir = "";
  let tarball = "";
  let packed: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sluice-pack-"));
    const out = await run("npm", ["pack", "--json", "--pack-destination", dir], ROOT, 120_000);
    // prepack prints before the JSON; the report is the last JSON array in the output.
    const report = JSON.parse(out.slice(out.lastIndexOf("\n[") + 1));
    tarball = join(dir, report[0].filename);
    packed = report[0].files.map((f: { path: string }) => f.path);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("the tarball holds the bundle, the operator files, README and LICENSE, and no sources or tests", () => {
    assert.deepEqual([...packed].sort(), [
      "LICENSE",
      "README.md",
      "dist/npm/sluice.mjs",
      "dist/npm/worker.mjs",
      "examples/dns-udp.toml",
      "examples/grafana/sluice-dashboard.json",
      "examples/prometheus/sluice-alerts.yml",
      "examples/redis-hash.toml",
      "examples/sluice.service",
      "examples/web-pool.toml",
      "package.json",
    ]);
  });

  test("installed into a project with no network, `sluice --version` runs on Node with the heap flag", async () => {
    const app = join(dir, "app");
    mkdirSync(app);
    await run("npm", ["init", "-y"], app);
    await run("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], app);
    const version = await run(join(app, "node_modules/.bin/sluice"), ["--version"], app);
    assert.match(version, new RegExp(`^sluice ${VERSION.replaceAll(".", "\\.")} \\(node \\d+\\.`));
    const bin = readFileSync(join(app, "node_modules/sluice/dist/npm/sluice.mjs"), "utf8");
    assert.equal(bin.split("\n")[0], "#!/usr/bin/env -S node --initial-old-space-size=64");
  });

  test("through npx, `sluice --help` prints the usage", async () => {
    const help = await run("npx", [
      "--yes",
      "--cache",
      join(dir, "npx-cache"),
      "--package",
      tarball,
      "sluice",
      "--help",
    ], dir);
    assert.match(help, /Usage:\n\s+sluice \[options\] LISTEN BACKEND/);
  });

  test("installed globally, `sluice` forwards bytes with two worker threads and exits 0 on SIGTERM", async () => {
    const prefix = join(dir, "global");
    await run("npm", ["install", "-g", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", tarball], dir);
    await forwardsWithTwoWorkers(join(prefix, "bin/sluice"), {
      cwd: dir,
      env: ENV,
      whileRunning(pid) {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        assert.ok(
          cmdline.includes("--initial-old-space-size=64"),
          `node runs with the heap flag: ${cmdline.join(" ")}`,
        );
      },
    });
  });
});
