/**
 * Runtime errors turned into what the core reports: connect failures as a
 * {@linkcode ConnectError} with a normalized reason, listen failures as
 * `Cannot listen on host:port: reason`. Only adapters import this file.
 *
 * @module
 */
import { formatAddress } from "../net/address.ts";
import { ConnectError, type ConnectFailure, type ConnectTcpOptions } from "./types.ts";

const FAILURE_BY_CODE: Record<string, ConnectFailure> = {
  ECONNREFUSED: "refused",
  ConnectionRefused: "refused",
  ETIMEDOUT: "timeout",
  TimedOut: "timeout",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EHOSTDOWN: "unreachable",
  ENETDOWN: "unreachable",
  // Ours, not the backend's: no descriptor, ephemeral port or buffer to connect with.
  EMFILE: "local",
  ENFILE: "local",
  ENOBUFS: "local",
  ENOMEM: "local",
  EADDRNOTAVAIL: "local",
  ENOTFOUND: "dns",
  EAI_AGAIN: "dns",
  EAI_NONAME: "dns",
  ECONNRESET: "reset",
  // Deno reports a backend that reset as it accepted as "not connected" on the first use of the socket.
  ENOTCONN: "reset",
  NotConnected: "reset",
  ConnectionReset: "reset",
  EPIPE: "reset",
};

/**
 * Maps an error's `code` (or Deno's error `name`) to a {@linkcode ConnectFailure}.
 *
 * @example
 * ```ts
 * connectFailureOf({ code: "ECONNREFUSED" }); // "refused"
 * ```
 */
export function connectFailureOf(error: unknown): ConnectFailure {
  const e = error as { code?: string; name?: string; message?: string };
  const byCode = (e?.code && FAILURE_BY_CODE[e.code]) || (e?.name && FAILURE_BY_CODE[e.name]);
  if (byCode) return byCode;
  const message = String(e?.message ?? "");
  if (/too many open files/i.test(message)) return "local";
  if (/refused/i.test(message)) return "refused";
  if (/timed? ?out/i.test(message)) return "timeout";
  if (/unreachable/i.test(message)) return "unreachable";
  if (/getaddrinfo|dns|name (or service )?not known|failed to lookup/i.test(message)) return "dns";
  if (/reset/i.test(message)) return "reset";
  return "error";
}

/**
 * The {@linkcode ConnectError} for a dial that ran out of time.
 *
 * @example
 * ```ts
 * connectTimeout({ host: "10.0.0.5", port: 80, timeoutMs: 500 }).message;
 * // "Cannot connect to 10.0.0.5:80: timed out after 500ms"
 * ```
 */
export function connectTimeout(options: ConnectTcpOptions): ConnectError {
  return new ConnectError(
    "timeout",
    `Cannot connect to ${formatAddress(options)}: timed out after ${options.timeoutMs}ms`,
  );
}

/**
 * The {@linkcode ConnectError} for a dial the runtime refused or failed.
 *
 * @example
 * ```ts
 * connectFailed({ host: "10.0.0.5", port: 80, timeoutMs: 500 }, { code: "ECONNREFUSED" }).reason; // "refused"
 * ```
 */
export function connectFailed(options: Pick<ConnectTcpOptions, "host" | "port">, error: unknown): ConnectError {
  return new ConnectError(connectFailureOf(error), `Cannot connect to ${formatAddress(options)}: ${errorText(error)}`);
}

const LISTEN_REASON: Record<string, string> = {
  EADDRINUSE: "address in use",
  AddrInUse: "address in use",
  EACCES: "permission denied",
  PermissionDenied: "permission denied",
  EADDRNOTAVAIL: "address not available",
  AddrNotAvailable: "address not available",
};

/**
 * Turns a listen failure into `Cannot listen on host:port: reason`.
 *
 * @example
 * ```ts
 * listenError({ host: "0.0.0.0", port: 80 }, { code: "EACCES" }).message;
 * // "Cannot listen on 0.0.0.0:80: permission denied"
 * ```
 */
export function listenError(options: { host: string; port: number }, error: unknown): Error {
  const e = error as { code?: string; name?: string; message?: string };
  const reason = (e?.code && LISTEN_REASON[e.code]) || (e?.name && LISTEN_REASON[e.name]) ||
    (/in use/i.test(String(e?.message)) ? "address in use" : String(e?.message ?? error));
  return new Error(`Cannot listen on ${formatAddress(options)}: ${reason}`);
}

/**
 * A short description of an error for logs: its code when it has one.
 *
 * @example
 * ```ts
 * errorText({ code: "ECONNRESET", message: "read ECONNRESET" }); // "ECONNRESET"
 * errorText("closed"); // "closed"
 * ```
 */
export function errorText(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e?.code ? `${e.code}` : String(e?.message ?? error);
}

/**
 * Sends a signal through the runtime's `kill`; false when the process does
 * not exist (ESRCH), other errors (EPERM) are thrown.
 */
export function signalProcess<S extends string>(
  kill: (pid: number, signal: S) => void,
  pid: number,
  signal: S,
): boolean {
  try {
    kill(pid, signal);
    return true;
  } catch (error) {
    const e = error as { code?: string; name?: string };
    if (e?.code === "ESRCH" || e?.name === "NotFound") return false;
    throw error;
  }
}
