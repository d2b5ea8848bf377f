/**
 * Where the project's own modules are, for starting worker threads. Only
 * adapters import this file.
 *
 * @module
 */

/**
 * Set only in the npm bundle (`scripts/bundle.ts` defines it): each worker
 * module's file, relative to the bundle. Everywhere else it is not declared
 * at run time, which `typeof` tells without throwing.
 */
declare const SLUICE_BUNDLE: Readonly<Record<string, string>> | undefined;

/**
 * The URL of a module given by its path from the project root. This file is
 * `src/runtime/_project.ts`, so the root is two levels up: keep it at this
 * depth (or change the `../../`). In the npm bundle, the module's bundled file.
 *
 * @example
 * ```ts
 * projectModule("src/workers/worker.ts"); // file:///…/src/workers/worker.ts
 * ```
 */
export function projectModule(path: string): URL {
  if (typeof SLUICE_BUNDLE !== "undefined" && SLUICE_BUNDLE[path]) return new URL(SLUICE_BUNDLE[path], import.meta.url);
  return new URL(`../../${path}`, import.meta.url);
}
