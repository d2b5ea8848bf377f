/**
 * A connect bounded by a timeout, for runtimes whose connect is a promise
 * (Deno, Bun). Only adapters import this file.
 *
 * @module
 */
import { connectFailed, connectTimeout } from "./_errors.ts";
import type { ConnectTcpOptions } from "./types.ts";

/**
 * Bounds a runtime's connect promise by `options.timeoutMs` with one timer.
 * A socket that connects after the timeout is passed to `discard`, so it
 * cannot leak; `wrap` turns a connected socket into the adapter's connection.
 * Rejects with a {@linkcode ConnectError}; `explain`, when given, may replace a
 * runtime error that hides its cause before it is classified.
 *
 * @example
 * ```ts
 * const conn = await dialWithTimeout(options, Deno.connect(options), (c) => new DenoConnection(c), (c) => c.close());
 * ```
 */
export function dialWithTimeout<S, C>(
  options: ConnectTcpOptions,
  connecting: Promise<S>,
  wrap: (socket: S) => C,
  discard: (socket: S) => void,
  explain?: (error: unknown) => unknown,
): Promise<C> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(connectTimeout(options));
    }, options.timeoutMs);
    connecting.then(
      (socket) => {
        clearTimeout(timer);
        if (timedOut) discard(socket);
        else resolve(wrap(socket));
      },
      (error) => {
        clearTimeout(timer);
        if (!timedOut) reject(connectFailed(options, explain ? explain(error) : error));
      },
    );
  });
}
