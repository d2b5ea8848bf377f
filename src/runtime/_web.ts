/**
 * What web-standard globals give every runtime: a clock with timers, and
 * module workers through `Worker` (used by Deno and Bun). Only adapters
 * import this file.
 *
 * @module
 */
import type { Clock, WorkerChannel, WorkerHandle } from "./types.ts";

/** The clock every runtime offers through `performance`, `Date` and the timer globals. */
export const webClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as number),
};

interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: "message", fn: (event: { data: unknown }) => void): void;
  addEventListener(type: "error", fn: (event: { message?: string; preventDefault?: () => void }) => void): void;
}

/**
 * Starts a module worker through the web `Worker` API (Deno and Bun).
 *
 * @example
 * ```ts
 * const worker = spawnWebWorker(projectModule("src/workers/worker.ts"));
 * worker.onMessage((message) => console.log(message));
 * ```
 */
export function spawnWebWorker(entry: URL | string): WorkerHandle {
  const Ctor =
    (globalThis as unknown as { Worker: new (url: URL | string, options: { type: "module" }) => WebWorker }).Worker;
  const worker = new Ctor(entry, { type: "module" });
  return {
    postMessage: (message) => worker.postMessage(message),
    onMessage: (handler) => worker.addEventListener("message", (event) => handler(event.data)),
    onError: (handler) =>
      worker.addEventListener("error", (event) => {
        event.preventDefault?.();
        handler(event.message ?? "worker failed");
      }),
    terminate: () => worker.terminate(),
  };
}

/**
 * Inside a web worker: the channel to the parent. The adapter decides whether
 * this thread is a worker at all.
 *
 * @example
 * ```ts
 * webWorkerChannel().postMessage({ ready: true });
 * ```
 */
export function webWorkerChannel(): WorkerChannel {
  const scope = globalThis as unknown as {
    postMessage: (message: unknown) => void;
    addEventListener: (type: "message", fn: (event: { data: unknown }) => void) => void;
    close?: () => void;
  };
  return {
    postMessage: (message) => scope.postMessage(message),
    onMessage: (handler) => scope.addEventListener("message", (event) => handler(event.data)),
    close: () => scope.close?.(),
  };
}
