/**
 * The standalone executable (`bun build --compile`): built once per test run
 * (under Node, the first runtime of `npm test`), then started for real.
 */
import { describe, test } from "node:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { forwardsWithTwoWorkers } from "./helpers/forward.ts";
import { runtimeName } from "./helpers/spawn.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

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
      await forwardsWithTwoWorkers(build(), { cwd: tmpdir() });
    });
  },
);
