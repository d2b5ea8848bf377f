/**
 * Messages between the main thread and listener worker threads.
 *
 * @module
 */
import type { Config } from "../config/schema.ts";
import type { BoundListener } from "../proxy/listeners.ts";
import type { SessionFilter, TableJson } from "../stats/table-view.ts";

/** Main thread -> worker. */
export type ToWorker =
  | {
    type: "start";
    index: number;
    config: Config;
    buffer: SharedArrayBuffer;
    /** Where this worker's region starts, in 8-byte words. */
    offset: number;
    /** The layout's version and length in words. */
    layout: { version: number; length: number };
  }
  | { type: "connections"; id: number; limit: number; filter?: SessionFilter }
  | { type: "health"; listener: string; backend: string; health: "up" | "down" }
  | { type: "shutdown"; drainTimeoutMs: number };

/** Worker -> main thread. */
export type FromWorker =
  | { type: "started"; addresses: BoundListener[] }
  | { type: "failed"; error: string }
  | { type: "connections"; id: number; connections: TableJson }
  | { type: "stopped"; drained: number; aborted: number };
