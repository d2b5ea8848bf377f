/**
 * The Deno {@linkcode ThreadPort}: web module workers.
 *
 * @module
 */
import { projectModule } from "../_project.ts";
import { spawnWebWorker, webWorkerChannel } from "../_web.ts";
import type { ThreadPort } from "../types.ts";

/** Worker threads under Deno. */
export const denoThreads: ThreadPort = {
  spawn: (module) => spawnWebWorker(projectModule(module)),
  // Deno's main thread has no postMessage; a worker's global scope does.
  channel:
    () => (typeof (globalThis as { postMessage?: unknown }).postMessage === "function"
      ? webWorkerChannel()
      : undefined),
};
