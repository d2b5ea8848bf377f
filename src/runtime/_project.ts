/**
 * Where the project's own modules are, for starting worker threads. Only
 * adapters import this file.
 *
 * @module
 */

/**
 * The URL of a module given by its path from the project root. This file is
 * `src/runtime/_project.ts`, so the root is two levels up: keep it at this
 * depth (or change the `../../`).
 *
 * @example
 * ```ts
 * projectModule("src/workers/worker.ts"); // file:///…/src/workers/worker.ts
 * ```
 */
export function projectModule(path: string): URL {
  return new URL(`../../${path}`, import.meta.url);
}
