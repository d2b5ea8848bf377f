/**
 * JSON shapes of the collector for the admin API. Read-only views: nothing
 * here keeps numbers of its own.
 *
 * @module
 */
import { formatAddress } from "../net/address.ts";
import type { Collector } from "../stats/collector.ts";
import type { Connection } from "../stats/connections.ts";
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
  collector.table.foldAll();
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
