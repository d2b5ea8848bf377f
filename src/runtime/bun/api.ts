/**
 * The slice of Bun's global API this adapter uses, declared here because
 * naming `Bun` in a type breaks Deno's type check (read `globalThis.Bun`).
 *
 * @module
 */
import type { BunSocket, BunSocketHandlers } from "./connection.ts";

/** A listening Bun TCP server. */
export interface BunTcpServer {
  readonly port: number;
  readonly hostname: string;
  stop(closeActive?: boolean): void;
}

/** A running `Bun.serve` server, as its `fetch` handler also receives it. */
export interface BunHttpServer {
  readonly port: number;
  readonly hostname: string;
  stop(closeActive?: boolean): Promise<void>;
  /** The client's address for a request this server received. */
  requestIP(request: Request): { address: string; port: number } | null;
}

/** What the adapter reads from `globalThis.Bun`. */
export interface BunApi {
  readonly version: string;
  readonly isMainThread: boolean;
  listen(options: {
    hostname: string;
    port: number;
    allowHalfOpen: boolean;
    reusePort: boolean;
    socket: BunSocketHandlers;
  }): BunTcpServer;
  connect(
    options: { hostname: string; port: number; allowHalfOpen: boolean; socket: BunSocketHandlers },
  ): Promise<BunSocket>;
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunHttpServer): Response | Promise<Response>;
  }): BunHttpServer;
  file(path: string): { text(): Promise<string> };
}

/**
 * `globalThis.Bun`; call only under Bun.
 *
 * @example
 * ```ts
 * bun().version; // "1.4.5"
 * ```
 */
export function bun(): BunApi {
  return (globalThis as unknown as { Bun: BunApi }).Bun;
}
