/**
 * What web-standard globals give every runtime: a clock with timers, module
 * workers through `Worker` (used by Deno and Bun), and the admin server's
 * request-size rule. Only adapters import this file.
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

/** Longest path and query the admin server takes (bytes); a longer one is answered 414. */
export const MAX_URL_BYTES = 8192;

/**
 * The request head (request line and headers) the HTTP adapters accept
 * where the runtime lets them set it (Node, Bun). Deno's own limit is about
 * the same and cannot be changed; past it each runtime answers by itself.
 */
export const MAX_HEAD_BYTES = 64 * 1024;

/**
 * `414 URI Too Long` with a JSON error when the path and query of `url` (a
 * request's absolute URL, so ASCII: the runtimes percent-encode the rest)
 * exceed {@linkcode MAX_URL_BYTES}; undefined otherwise.
 *
 * @example
 * ```ts
 * const refused = uriTooLong(request.url);
 * if (refused) return refused;
 * ```
 */
export function uriTooLong(url: string): Response | undefined {
  if (url.length <= MAX_URL_BYTES) return undefined;
  const scheme = url.indexOf("://");
  const path = scheme < 0 ? 0 : url.indexOf("/", scheme + 3);
  const length = path < 0 ? 0 : url.length - path;
  if (length <= MAX_URL_BYTES) return undefined;
  return Response.json(
    { error: `URI too long: ${length} bytes of path and query, at most ${MAX_URL_BYTES}` },
    { status: 414 },
  );
}
