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

/** A Bun UDP socket (`Bun.udpSocket`); a connected one sends with `send(data)`. */
export interface BunUdpSocket {
  readonly port: number;
  readonly address: { readonly address: string; readonly port: number };
  readonly closed: boolean;
  /** False when the kernel would block; throws when the socket is closed or the datagram too large. */
  send(data: Uint8Array, port: number, address: string): boolean | number;
  send(data: Uint8Array): boolean | number;
  close(): void;
}

/**
 * Handlers of a Bun UDP socket. `error` is declared with two parameters,
 * but Bun 1.4 calls it with the error alone (and the socket as `this`).
 */
export interface BunUdpHandlers {
  data(socket: BunUdpSocket, data: Uint8Array, port: number, address: string): void;
  error(first: unknown, second?: unknown): void;
}

/** Options of `Bun.udpSocket`. `flags` are uSockets socket flags, undocumented but what Bun's node:dgram uses. */
export interface BunUdpOptions {
  hostname: string;
  port: number;
  flags?: number;
  binaryType?: "uint8array";
  socket: BunUdpHandlers;
  connect?: { hostname: string; port: number };
}

/** A Bun TCP socket as a probe uses it. */
export interface BunProbeSocket {
  write(data: Uint8Array): number;
  terminate(): void;
}

/** Handlers of a probe's `Bun.connect`. */
export interface BunProbeHandlers {
  open(socket: BunProbeSocket): void;
  data(socket: BunProbeSocket, chunk: Uint8Array): void;
  drain(socket: BunProbeSocket): void;
  end(socket: BunProbeSocket): void;
  close(socket: BunProbeSocket, error?: Error): void;
  error(socket: BunProbeSocket, error: Error): void;
  connectError(socket: BunProbeSocket, error: Error): void;
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
  connect(options: { hostname: string; port: number; socket: BunProbeHandlers }): Promise<BunProbeSocket>;
  udpSocket(options: BunUdpOptions): Promise<BunUdpSocket>;
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
