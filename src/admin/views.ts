/**
 * JSON shapes of the collector for the admin API. Read-only views: nothing
 * here keeps numbers of its own.
 *
 * @module
 */
import { formatAddress } from "../net/address.ts";
import type { Collector } from "../stats/collector.ts";
import type { Connection, ConnectionTable } from "../stats/connections.ts";
import type { TrafficStats } from "../stats/entities.ts";

function traffic(stats: TrafficStats) {
  return {
    connections_total: stats.connections,
    active_connections: stats.active,
    received_bytes_total: stats.bytesIn,
    sent_bytes_total: stats.bytesOut,
  };
}

/** Totals, listeners and their backends. */
export function statsView(collector: Collector) {
  collector.refresh();
  return {
    version: collector.info.version,
    runtime: `${collector.info.runtime} ${collector.info.runtimeVersion}`,
    uptime_seconds: Math.round(collector.uptimeSeconds()),
    total: traffic(collector.total),
    listeners: collector.listeners().map((l) => ({
      name: l.name,
      ...traffic(l),
      rejected_total: { ...l.rejected },
      backends: collector.backends(l.name).map((b) => ({
        name: b.name,
        state: b.state,
        ...traffic(b),
        connect_errors_total: { ...b.connectErrors },
        ejections_total: b.ejections,
      })),
    })),
  };
}

/** One connection as the API shows it; `now` is monotonic milliseconds. */
export function connectionView(conn: Connection, now: number) {
  return {
    id: conn.id,
    listener: conn.listener.name,
    client: formatAddress(conn.client),
    backend: conn.backend?.name ?? null,
    started: new Date(conn.startedWall).toISOString(),
    duration_ms: Math.round((conn.endedAt || now) - conn.startedAt),
    received_bytes: conn.up,
    sent_bytes: conn.down,
    state: conn.closeReason ? "closed" : conn.relay ? "relaying" : "connecting",
    close_reason: conn.closeReason ?? null,
  };
}

/** One connection as JSON. */
export type ConnectionJson = ReturnType<typeof connectionView>;

/** Live and recently closed connections, as `/api/v1/connections` returns them. */
export interface ConnectionsJson {
  live_total: number;
  live: ConnectionJson[];
  recent: ConnectionJson[];
}

/** Up to `limit` live and `limit` recently closed connections of one table. */
export function connectionsView(table: ConnectionTable, limit: number, now: number): ConnectionsJson {
  const live = table.liveConnections();
  return {
    live_total: live.length,
    live: live.slice(0, limit).map((conn) => connectionView(conn, now)),
    recent: table.recentlyClosed().slice(0, limit).map((conn) => connectionView(conn, now)),
  };
}

/** Merges several threads' views, newest closed first, keeping `limit` of each list. */
export function mergeConnections(views: readonly ConnectionsJson[], limit: number): ConnectionsJson {
  const ended = (c: ConnectionJson) => Date.parse(c.started) + c.duration_ms;
  return {
    live_total: views.reduce((n, v) => n + v.live_total, 0),
    live: views.flatMap((v) => v.live).slice(0, limit),
    recent: views.flatMap((v) => v.recent).sort((a, b) => ended(b) - ended(a)).slice(0, limit),
  };
}
