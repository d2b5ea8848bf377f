/**
 * JSON shapes of the collector and backend states for the admin API.
 * Read-only views: nothing here keeps numbers of its own or changes any.
 *
 * @module
 */
import type { Collector } from "../stats/collector.ts";
import type { BackendCounters, TrafficCounters } from "../stats/counters.ts";
import type { ShownState, StateBook } from "../upstream/state.ts";

function traffic(counters: TrafficCounters) {
  return {
    connections_total: counters.connections,
    active_connections: counters.active,
    received_bytes_total: counters.toUpstream,
    sent_bytes_total: counters.toClient,
  };
}

/** The state shown for a backend; `up` for one no pool has seen yet. */
export function shownState(states: StateBook, backend: BackendCounters, now: number): ShownState {
  return states.find(backend.listener.key, backend.key)?.shown(backend.active, now) ?? "up";
}

/** Totals, listeners and their backends; call `collector.gather()` first. */
export function statsView(collector: Collector, states: StateBook, now: number) {
  return {
    version: collector.info.version,
    runtime: `${collector.info.runtime} ${collector.info.runtimeVersion}`,
    uptime_seconds: Math.round(collector.uptimeSeconds()),
    total: traffic(collector.total),
    listeners: collector.listeners().map((l) => ({
      name: l.name,
      ...traffic(l),
      rejected_total: { ...l.rejected },
      backends: collector.backends(l.key).map((b) => ({
        name: b.name,
        state: shownState(states, b, now),
        ...traffic(b),
        connect_errors_total: { ...b.connectErrors },
        ejections_total: b.ejections,
      })),
    })),
  };
}
