/**
 * The connection table as JSON: one shape for the admin API and for worker
 * threads sending their sessions to the main thread.
 *
 * @module
 */
import { formatAddress } from "../net/address.ts";
import { cidrContains, parseCidr } from "../net/cidr.ts";
import type { SessionPhase, SessionRecord } from "./recent.ts";

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
  /** Live sessions in all. */
  live_total: number;
  /** Live sessions the filter matched. */
  matched: number;
  live: SessionJson[];
  recent: SessionJson[];
}

/** What `/api/v1/connections` narrows by; plain data, so worker threads can take it in a message. */
export interface SessionFilter {
  /** An IP address or CIDR block the client address must be in. */
  readonly source?: string;
  /** Text the client address (`ip:port`) must contain, as typed into a filter box. */
  readonly clientContains?: string;
  readonly listener?: string;
  readonly backend?: string;
  /** Text the backend's name must contain, ignoring case. */
  readonly backendContains?: string;
  readonly state?: SessionPhase;
  readonly protocol?: "tcp" | "udp";
  /** Live sessions with the most bytes, or the longest running, first (default: oldest first). */
  readonly sort?: "bytes" | "duration";
}

/** A predicate for a filter; the source block is parsed once. */
function matcher(filter: SessionFilter): (s: SessionRecord) => boolean {
  const block = filter.source === undefined ? undefined : parseCidr(filter.source);
  const cidr = block?.ok ? block.value : undefined;
  const client = filter.clientContains;
  const backend = filter.backendContains?.toLowerCase();
  return (s) =>
    (cidr === undefined || cidrContains(cidr, s.client.host)) &&
    (client === undefined || formatAddress(s.client).includes(client)) &&
    (backend === undefined || (s.backendName ?? "").toLowerCase().includes(backend)) &&
    (filter.listener === undefined || s.listener.name === filter.listener) &&
    (filter.backend === undefined || s.backendName === filter.backend) &&
    (filter.state === undefined || s.phase === filter.state) &&
    (filter.protocol === undefined || s.protocol === filter.protocol);
}

const bytesOf = (s: SessionJson) => s.received_bytes + s.sent_bytes;

/** Orders live sessions as the filter asks; `duration` and the default both put the oldest first. */
function sortLive(list: SessionJson[], sort: SessionFilter["sort"]): SessionJson[] {
  if (sort === "bytes") return list.sort((a, b) => bytesOf(b) - bytesOf(a));
  return list.sort((a, b) => b.duration_ms - a.duration_ms);
}

/**
 * Up to `limit` live and `limit` recently closed sessions matching `filter`.
 *
 * @example
 * ```ts
 * tableJson(sessions.list(), collector.recent.list(clock.now()), 100, clock.now(), { source: "10.0.0.0/8" });
 * ```
 */
export function tableJson(
  live: readonly SessionRecord[],
  recent: readonly SessionRecord[],
  limit: number,
  now: number,
  filter: SessionFilter = {},
): TableJson {
  const match = matcher(filter);
  const matched = sortLive(live.filter(match).map((s) => sessionJson(s, now)), filter.sort);
  return {
    live_total: live.length,
    matched: matched.length,
    live: matched.slice(0, limit),
    recent: recent.filter(match).slice(0, limit).map((s) => sessionJson(s, now)),
  };
}

/** Merges several threads' tables, sorted again, newest closed first, keeping `limit` of each list. */
export function mergeTables(tables: readonly TableJson[], limit: number, sort?: SessionFilter["sort"]): TableJson {
  const ended = (s: SessionJson) => Date.parse(s.started) + s.duration_ms;
  return {
    live_total: tables.reduce((n, t) => n + t.live_total, 0),
    matched: tables.reduce((n, t) => n + t.matched, 0),
    live: sortLive(tables.flatMap((t) => t.live), sort).slice(0, limit),
    recent: tables.flatMap((t) => t.recent).sort((a, b) => ended(b) - ended(a)).slice(0, limit),
  };
}
