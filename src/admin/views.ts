/**
 * JSON shapes of the collector and backend states for the admin API.
 * Read-only views: nothing here keeps numbers of its own or changes any.
 *
 * @module
 */
import { backendKey, type Config } from "../config/schema.ts";
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

/** The last second's rates and the peaks since start or reset, from the history (zero where none is kept). */
function rates(collector: Collector, counters: TrafficCounters) {
  const history = collector.historyOf(counters);
  const s = history?.series;
  return {
    received_bytes_per_second: s?.toUpstream.seconds.last() ?? 0,
    sent_bytes_per_second: s?.toClient.seconds.last() ?? 0,
    connections_per_second: s?.connections.seconds.last() ?? 0,
    peak_connections_per_second: history?.peakConnections ?? 0,
    peak_active_connections: history?.peakActive ?? 0,
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

/** Seconds the backend's shown state has held, or null for one no pool has seen yet. */
function stateSeconds(states: StateBook, backend: BackendCounters, now: number): number | null {
  const state = states.find(backend.listener.key, backend.key);
  return state ? Math.max(0, Math.round((now - state.since(now)) / 1000)) : null;
}

/** Weights and balancers of the running configuration, by listener key (and backend address). */
function configured(config: Config | undefined) {
  const balance = new Map<string, string>();
  const weight = new Map<string, number>();
  for (const l of config?.listeners ?? []) {
    balance.set(l.key, l.balance);
    for (const b of l.backends) weight.set(`${l.key}\u0000${backendKey(b)}`, b.weight);
  }
  return { balance, weight };
}

/**
 * Totals, listeners and their backends; call `collector.gather()` first.
 * `addresses`: the address each listener (by key) is bound to, where known;
 * `config`: the running configuration, for weights and balancers.
 */
export function statsView(
  collector: Collector,
  states: StateBook,
  now: number,
  addresses: ReadonlyMap<string, string> = new Map(),
  config?: Config,
) {
  const { balance, weight } = configured(config);
  return {
    version: collector.info.version,
    runtime: `${collector.info.runtime} ${collector.info.runtimeVersion}`,
    uptime_seconds: Math.round(collector.uptimeSeconds()),
    total: { ...traffic(collector.total), ...rates(collector, collector.total) },
    refused_last_second: { ...collector.refusedLastSecond },
    listeners: collector.listeners().map((l) => ({
      name: l.name,
      key: l.key,
      address: addresses.get(l.key) ?? null,
      protocol: l.protocol,
      balance: balance.get(l.key) ?? null,
      ...traffic(l),
      ...rates(collector, l),
      rejected_total: { ...l.rejected },
      ...(l.protocol === "udp" ? datagrams(l, { dropped_total: { ...l.dropped } }) : {}),
      backends: collector.backends(l.key).map((b) => ({
        name: b.name,
        address: b.key,
        state: shownState(states, b, now),
        state_seconds: stateSeconds(states, b, now),
        weight: weight.get(`${l.key}\u0000${b.key}`) ?? null,
        ...traffic(b),
        ...rates(collector, b),
        ...(l.protocol === "udp" ? datagrams(b, {}) : {}),
        connect_errors_total: { ...b.connectErrors },
        ejections_total: b.ejections,
        health_transitions_total: b.healthTransitions,
        last_check: lastCheck(states, b),
      })),
    })),
  };
}

/** What {@linkcode statsView} returns. */
export type StatsView = ReturnType<typeof statsView>;
