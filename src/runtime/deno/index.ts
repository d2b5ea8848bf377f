/**
 * The Deno adapter: one {@linkcode Runtime} made of Deno's ports.
 *
 * @module
 */
import { webClock } from "../_web.ts";
import type { Runtime } from "../types.ts";
import { createDenoHost } from "./host.ts";
import { denoHttp } from "./http.ts";
import { denoNet } from "./net.ts";
import { denoThreads } from "./threads.ts";

/**
 * Builds the Deno {@linkcode Runtime}; call only under Deno.
 *
 * @example
 * ```ts
 * const runtime = createDenoRuntime();
 * runtime.host.writeOut(`deno ${runtime.version}\n`);
 * ```
 */
export function createDenoRuntime(): Runtime {
  return {
    name: "deno",
    version: Deno.version.deno,
    clock: webClock,
    net: denoNet,
    http: denoHttp,
    threads: denoThreads,
    host: createDenoHost(),
  };
}
