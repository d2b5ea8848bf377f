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

function datagrams<T extends object>(counters: TrafficCounters, extra: T) {
  return {
    received_datagrams_total: counters.datagramsToUpstream,
    sent_datagrams_total: counters.datagramsToClient,
    ...extra,
  };
}

/** The last health check of a backend, or null when its listener runs none. */
function lastCheck(states: StateBook, backend: BackendCounters) {
  const check = states.find(backend.listener.key, backend.key)?.lastCheck;
  if (!check) return null;
  return {
    ok: check.ok,
    reason: check.reason,
    latency_ms: Math.round(check.latencyMs * 100) / 100,
    at: new Date(check.at).toISOString(),
  };
}

/** The state shown for a backend; `up` for one no pool has seen yet. */
export function shownState(states: StateBook, backend: BackendCounters, now: number): ShownState {
  return states.find(backend.listener.key, backend.key)?.shown(backend.active, now) ?? "up";
}

/**
 * Totals, listeners and their backends; call `collector.gather()` first.
 * `addresses`: the address each listener (by key) is bound to, where known.
 */
export function statsView(
  collector: Collector,
  states: StateBook,
  now: number,
  addresses: ReadonlyMap<string, string> = new Map(),
) {
  return {
    version: collector.info.version,
    runtime: `${collector.info.runtime} ${collector.info.runtimeVersion}`,
    uptime_seconds: Math.round(collector.uptimeSeconds()),
    total: traffic(collector.total),
    listeners: collector.listeners().map((l) => ({
      name: l.name,
      key: l.key,
      address: addresses.get(l.key) ?? null,
      protocol: l.protocol,
      ...traffic(l),
      rejected_total: { ...l.rejected },
      ...(l.protocol === "udp" ? datagrams(l, { dropped_total: { ...l.dropped } }) : {}),
      backends: collector.backends(l.key).map((b) => ({
        name: b.name,
        state: shownState(states, b, now),
        ...traffic(b),
        ...(l.protocol === "udp" ? datagrams(b, {}) : {}),
        connect_errors_total: { ...b.connectErrors },
        ejections_total: b.ejections,
        health_transitions_total: b.healthTransitions,
        last_check: lastCheck(states, b),
      })),
    })),
  };
}
