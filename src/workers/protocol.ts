/**
 * Messages between the main thread and listener worker threads.
 *
 * @module
 */
import type { ConnectionsJson } from "../admin/views.ts";
import type { Config } from "../config/schema.ts";
import type { SocketAddress } from "../net/address.ts";

/** Main thread -> worker. */
export type ToWorker =
  | { type: "start"; index: number; config: Config; buffer: SharedArrayBuffer; offset: number; length: number }
  | { type: "connections"; id: number; limit: number }
  | { type: "shutdown"; drainTimeoutMs: number };

/** Worker -> main thread. */
export type FromWorker =
  | { type: "started"; addresses: { name: string; address: SocketAddress }[] }
  | { type: "failed"; error: string }
  | { type: "connections"; id: number; connections: ConnectionsJson }
  | { type: "stopped"; drained: number; aborted: number };
