/**
 * The Bun adapter: one {@linkcode Runtime} made of Bun's ports.
 *
 * @module
 */
import { webClock } from "../_web.ts";
import type { Runtime } from "../types.ts";
import { bun } from "./api.ts";
import { createBunHost } from "./host.ts";
import { bunHttp } from "./http.ts";
import { bunNet } from "./net.ts";
import { bunThreads } from "./threads.ts";

/**
 * Builds the Bun {@linkcode Runtime}; call only under Bun.
 *
 * @example
 * ```ts
 * const runtime = createBunRuntime();
 * runtime.host.writeOut(`bun ${runtime.version}\n`);
 * ```
 */
export function createBunRuntime(): Runtime {
  return {
    name: "bun",
    version: bun().version,
    clock: webClock,
    net: bunNet,
    http: bunHttp,
    threads: bunThreads,
    host: createBunHost(),
  };
}
