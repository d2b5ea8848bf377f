/**
 * The Node adapter: one {@linkcode Runtime} made of Node's ports.
 *
 * @module
 */
import process from "node:process";
import { webClock } from "../_web.ts";
import type { Runtime } from "../types.ts";
import { nodeHost } from "./host.ts";
import { nodeHttp } from "./http.ts";
import { nodeNet } from "./net.ts";
import { nodeThreads } from "./threads.ts";

/**
 * Builds the Node {@linkcode Runtime} (Deno and Bun also run it, through their Node compatibility).
 *
 * @example
 * ```ts
 * const runtime = createNodeRuntime();
 * runtime.host.writeOut(`node ${runtime.version}\n`);
 * ```
 */
export function createNodeRuntime(): Runtime {
  return {
    name: "node",
    version: process.versions.node,
    clock: webClock,
    net: nodeNet,
    http: nodeHttp,
    threads: nodeThreads,
    host: nodeHost,
  };
}
