/**
 * Messages between the main thread and listener worker threads. A request
 * that expects an answer carries an `id`; the answer (or `failed`) carries it back.
 *
 * @module
 */
import type { Plan } from "../config/diff.ts";
import type { Config } from "../config/schema.ts";
import type { BoundListener } from "../proxy/listeners.ts";
import type { TopSnapshot } from "../stats/client-top.ts";
import type { SessionFilter, TableJson } from "../stats/table-view.ts";
import type { AdminState, Health } from "../upstream/state.ts";

/** Where a worker publishes its numbers: its region of a shared buffer, in one layout version. */
export interface RegionSpec {
  buffer: SharedArrayBuffer;
  /** Where this worker's region starts, in 8-byte words. */
  offset: number;
  /** The layout's version and length in words. */
  layout: { version: number; length: number };
}

/** Main thread -> worker. */
export type ToWorker =
  | { type: "start"; id: number; index: number; config: Config; region: RegionSpec; idSpace: number }
  | { type: "connections"; id: number; limit: number; filter?: SessionFilter }
  | { type: "close"; id: number; session: number }
  | { type: "top"; id: number }
  /** Binds a reload's new listeners without committing anything else. */
  | { type: "prepare"; id: number; plan: Plan }
  /** Applies the prepared plan; numbers go to the new region from now on. */
  | { type: "commit"; id: number; plan: Plan; config: Config; region: RegionSpec }
  | { type: "abandon"; id: number }
  | { type: "health"; listener: string; backend: string; health: Health }
  | { type: "admin"; listener: string; backend: string; admin: AdminState }
  | { type: "shutdown"; id: number; drainTimeoutMs: number };

/** Worker -> main thread. */
export type FromWorker =
  | { type: "started"; id: number; addresses: BoundListener[] }
  | { type: "prepared"; id: number; addresses: BoundListener[] }
  | { type: "done"; id: number }
  | { type: "failed"; id: number; error: string }
  | { type: "connections"; id: number; connections: TableJson }
  | { type: "closed"; id: number; found: boolean }
  | { type: "top"; id: number; top: TopSnapshot }
  | { type: "stopped"; id: number; drained: number; aborted: number };
