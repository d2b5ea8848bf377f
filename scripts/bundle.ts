/**
 * Builds what the npm package ships (run by `prepack`): `dist/npm/sluice.mjs`,
 * the whole program in one file, and `dist/npm/worker.mjs`, the listener
 * worker thread. Node does not strip types inside `node_modules`, so the
 * package cannot run `mod.ts` as a checkout does; the bundle also needs no
 * dependencies installed beside it. `--initial-old-space-size` is refused in
 * `NODE_OPTIONS`, so the interpreter line carries it (see README).
 *
 * @module
 */
import { build } from "esbuild";
import { chmodSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "dist/npm");

/** Worker modules by their path from the project root, and their file in the bundle (see `_project.ts`). */
const WORKERS = { "src/workers/worker.ts": "./worker.mjs" };

rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: [
    { in: join(ROOT, "mod.ts"), out: "sluice" },
    { in: join(ROOT, "src/workers/worker.ts"), out: "worker" },
  ],
  outdir: OUT,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  // Each entry is one file: a shared chunk would be a third file to keep beside them for nothing.
  splitting: false,
  minifyWhitespace: false,
  legalComments: "eof",
  define: { SLUICE_BUNDLE: JSON.stringify(WORKERS) },
  banner: { js: "#!/usr/bin/env -S node --initial-old-space-size=64" },
  logLevel: "warning",
});
chmodSync(join(OUT, "sluice.mjs"), 0o755);
console.log(`bundled into ${OUT.replace(ROOT, "")}: sluice.mjs, worker.mjs`);
