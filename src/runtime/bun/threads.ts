/**
 * The Bun {@linkcode ThreadPort}: web module workers, also inside a
 * `bun build --compile` binary.
 *
 * @module
 */
import { projectModule } from "../_project.ts";
import { spawnWebWorker, webWorkerChannel } from "../_web.ts";
import type { ThreadPort } from "../types.ts";
import { bun } from "./api.ts";

/** Worker threads under Bun; use only under Bun. */
export const bunThreads: ThreadPort = {
  // In a `bun build --compile` binary, modules live under /$bunfs/root/ by their path from the
  // project root (the worker is an extra entrypoint of the build), so a plain relative path finds it.
  spawn: (module) => spawnWebWorker(import.meta.url.includes("/$bunfs/") ? `./${module}` : projectModule(module)),
  channel: () => (bun().isMainThread ? undefined : webWorkerChannel()),
};
