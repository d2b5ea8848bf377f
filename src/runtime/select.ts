/**
 * The one place that decides which runtime adapter runs.
 *
 * @module
 */
import { createBunRuntime } from "./bun/index.ts";
import { createDenoRuntime } from "./deno/index.ts";
import { createNodeRuntime } from "./node/index.ts";
import type { Runtime } from "./types.ts";

let selected: Runtime | undefined;

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
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  selected = g.Bun ? createBunRuntime() : g.Deno ? createDenoRuntime() : createNodeRuntime();
  return selected;
}
