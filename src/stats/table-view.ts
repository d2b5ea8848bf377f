/**
 * The connection table as JSON: one shape for the admin API and for worker
 * threads sending their sessions to the main thread.
 *
 * @module
 */
import { formatAddress } from "../net/address.ts";
import type { SessionRecord } from "./recent.ts";

/** One session as JSON; `now` is monotonic milliseconds. */
export function sessionJson(session: SessionRecord, now: number) {
  return {
    id: session.id,
    protocol: session.protocol,
    listener: session.listener.name,
    client: formatAddress(session.client),
    backend: session.backendName ?? null,
    started: new Date(session.startedWall).toISOString(),
    duration_ms: Math.round((session.endedAt || now) - session.startedAt),
    received_bytes: session.toUpstream,
    sent_bytes: session.toClient,
    state: session.phase,
    close_reason: session.closeReason ?? null,
  };
}

/** One session as JSON. */
export type SessionJson = ReturnType<typeof sessionJson>;

/** Live and recently closed sessions, as `/api/v1/connections` returns them. */
export interface TableJson {
  live_total: number;
  live: SessionJson[];
  recent: SessionJson[];
}

/**
 * Up to `limit` live and `limit` recently closed sessions.
 *
 * @example
 * ```ts
 * tableJson(sessions.list(), collector.recent.list(), 100, clock.now());
 * ```
 */
export function tableJson(
  live: readonly SessionRecord[],
  recent: readonly SessionRecord[],
  limit: number,
  now: number,
): TableJson {
  return {
    live_total: live.length,
    live: live.slice(0, limit).map((s) => sessionJson(s, now)),
    recent: recent.slice(0, limit).map((s) => sessionJson(s, now)),
  };
}

/** Merges several threads' tables, newest closed first, keeping `limit` of each list. */
export function mergeTables(tables: readonly TableJson[], limit: number): TableJson {
  const ended = (s: SessionJson) => Date.parse(s.started) + s.duration_ms;
  return {
    live_total: tables.reduce((n, t) => n + t.live_total, 0),
    live: tables.flatMap((t) => t.live).slice(0, limit),
    recent: tables.flatMap((t) => t.recent).sort((a, b) => ended(b) - ended(a)).slice(0, limit),
  };
}
