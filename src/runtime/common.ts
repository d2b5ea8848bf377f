/**
 * Pieces the runtime adapters share: the web-standard clock, error-code
 * mapping and address normalization. Only adapters import this file.
 *
 * @module
 */
import { type Clock, ConnectError, type ConnectFailure, type ConnectTcpOptions, type TcpConnection, type WorkerChannel, type WorkerHandle } from "./types.ts";
import { formatAddress, type SocketAddress } from "../net/address.ts";

/** The clock every runtime offers through web-standard globals. */
export const webClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as number),
};

/** Strips the IPv4-mapped prefix dual-stack sockets report (`::ffff:1.2.3.4`). */
export function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.indexOf(".") > 0 ? ip.slice(7) : ip;
}

/** Builds a {@linkcode SocketAddress} from what a socket reports. */
export function socketAddress(host: string | undefined, port: number | undefined): SocketAddress {
  return { host: normalizeIp(host ?? ""), port: port ?? 0 };
}

const FAILURE_BY_CODE: Record<string, ConnectFailure> = {
  ECONNREFUSED: "refused",
  ConnectionRefused: "refused",
  ETIMEDOUT: "timeout",
  TimedOut: "timeout",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EHOSTDOWN: "unreachable",
  ENETDOWN: "unreachable",
  EADDRNOTAVAIL: "unreachable",
  ENOTFOUND: "dns",
  EAI_AGAIN: "dns",
  EAI_NONAME: "dns",
  ECONNRESET: "reset",
  ConnectionReset: "reset",
  EPIPE: "reset",
};

/** Maps an error's `code` (or Deno's error `name`) to a {@linkcode ConnectFailure}. */
export function connectFailureOf(error: unknown): ConnectFailure {
  const e = error as { code?: string; name?: string; message?: string };
  const byCode = (e?.code && FAILURE_BY_CODE[e.code]) || (e?.name && FAILURE_BY_CODE[e.name]);
  if (byCode) return byCode;
  const message = String(e?.message ?? "");
  if (/refused/i.test(message)) return "refused";
  if (/timed? ?out/i.test(message)) return "timeout";
  if (/unreachable/i.test(message)) return "unreachable";
  if (/getaddrinfo|dns|name (or service )?not known|failed to lookup/i.test(message)) return "dns";
  if (/reset/i.test(message)) return "reset";
  return "error";
}

/** The {@linkcode ConnectError} for a dial that ran out of time. */
export function connectTimeout(options: ConnectTcpOptions): ConnectError {
  return new ConnectError("timeout", `Cannot connect to ${formatAddress(options)}: timed out after ${options.timeoutMs}ms`);
}

/** The {@linkcode ConnectError} for a dial the runtime refused or failed. */
export function connectFailed(options: ConnectTcpOptions, error: unknown): ConnectError {
  return new ConnectError(connectFailureOf(error), `Cannot connect to ${formatAddress(options)}: ${errorText(error)}`);
}

/**
 * Bounds a runtime's connect promise by `options.timeoutMs` with one timer.
 * A socket that connects after the timeout is passed to `discard`, so it
 * cannot leak; `wrap` turns a connected socket into a {@linkcode TcpConnection}.
 */
export function dialWithTimeout<S>(
  options: ConnectTcpOptions,
  connecting: Promise<S>,
  wrap: (socket: S) => TcpConnection,
  discard: (socket: S) => void,
): Promise<TcpConnection> {
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
        if (!timedOut) reject(connectFailed(options, error));
      },
    );
  });
}

const LISTEN_REASON: Record<string, string> = {
  EADDRINUSE: "address in use",
  AddrInUse: "address in use",
  EACCES: "permission denied",
  PermissionDenied: "permission denied",
  EADDRNOTAVAIL: "address not available",
  AddrNotAvailable: "address not available",
};

/** Turns a listen failure into `Cannot listen on host:port: reason`. */
export function listenError(what: string, error: unknown): Error {
  const e = error as { code?: string; name?: string; message?: string };
  const reason = (e?.code && LISTEN_REASON[e.code]) || (e?.name && LISTEN_REASON[e.name]) ||
    (/in use/i.test(String(e?.message)) ? "address in use" : String(e?.message ?? error));
  return new Error(`Cannot listen on ${what}: ${reason}`);
}

/** A short description of an error for logs. */
export function errorText(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e?.code ? `${e.code}` : String(e?.message ?? error);
}

interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: "message", fn: (event: { data: unknown }) => void): void;
  addEventListener(type: "error", fn: (event: { message?: string; preventDefault?: () => void }) => void): void;
}

/** The URL of a module given relative to the project root (this file is src/runtime/common.ts). */
export function projectModule(path: string): URL {
  return new URL(`../../${path}`, import.meta.url);
}

/** A module worker through the web `Worker` API (Deno and Bun). */
export function spawnWebWorker(entry: URL | string): WorkerHandle {
  const Ctor = (globalThis as unknown as { Worker: new (url: URL | string, options: { type: "module" }) => WebWorker }).Worker;
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

/** Inside a web worker: the channel to the parent. Adapters decide whether this is a worker. */
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
