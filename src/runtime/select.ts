/**
 * The one place that decides which runtime adapter runs.
 *
 * @module
 */
import { createBunRuntime } from "./bun/index.ts";
import { createDenoRuntime } from "./deno/index.ts";
import { createNodeRuntime } from "./node/index.ts";
import { probeReusePort } from "./node/reuse-port.ts";
import type { Runtime } from "./types.ts";

let selected: Runtime | undefined;

const g = globalThis as { Bun?: unknown; Deno?: unknown };
// Node tells whether it can share a port only by binding twice, which is asynchronous; the answer is read
// synchronously (supportsReusePort), so it is found out here, once per thread, before anyone can ask.
if (!g.Bun && !g.Deno) await probeReusePort();

/**
 * Returns the adapter for the runtime this process runs on (memoized).
 *
 * @example
 * ```ts
 * const runtime = selectRuntime();
 * console.log(runtime.name); // "deno", "bun" or "node"
 * ```
 */
export function selectRuntime(): Runtime {
  if (selected) return selected;
  selected = g.Bun ? createBunRuntime() : g.Deno ? createDenoRuntime() : createNodeRuntime();
  return selected;
}
