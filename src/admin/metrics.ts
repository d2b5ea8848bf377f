/**
 * Prometheus text exposition of the collector's counters and backend states:
 * base units, `_total` on counters, no per-client labels. Read-only.
 *
 * @module
 */
import type { Collector } from "../stats/collector.ts";
import { CONNECT_FAILURES, DROP_REASONS, type Histogram, REJECT_REASONS } from "../stats/counters.ts";
import { SHOWN_STATES, type StateBook } from "../upstream/state.ts";
import { shownState } from "./views.ts";

type Labels = Record<string, string>;

/** Accumulates metric families in exposition order. */
class Exposition {
  private out: string[] = [];

  family(name: string, type: "counter" | "gauge", help: string, samples: [Labels, number][]): void {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) this.out.push(`${name}${formatLabels(labels)} ${value}`);
  }

  /** A histogram family: cumulative `_bucket{le}` samples, `_sum` and `_count` per label set. */
  histogram(name: string, help: string, samples: [Labels, Histogram, number, number][]): void {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (const [labels, h, sum, count] of samples) {
      let cumulative = 0;
      h.bounds.forEach((bound, i) => {
        cumulative += h.counts[i];
        this.out.push(`${name}_bucket${formatLabels({ ...labels, le: String(bound) })} ${cumulative}`);
      });
      this.out.push(`${name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${count}`);
      this.out.push(`${name}_sum${formatLabels(labels)} ${sum}`);
      this.out.push(`${name}_count${formatLabels(labels)} ${count}`);
    }
  }

  text(): string {
    return this.out.join("\n") + "\n";
  }
}

const escape = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${escape(labels[k])}"`).join(",")}}`;
}

/** Reload counts for `/metrics`. */
export interface ReloadMetrics {
  readonly success: number;
  readonly error: number;
  /** Wall-clock ms of the last successful reload. */
  readonly lastSuccessWall: number | undefined;
  /** Whether the last reload succeeded (true before any). */
  readonly lastOk: boolean;
}

/**
 * Renders every metric as Prometheus text format 0.0.4; call
 * `collector.gather()` first.
 *
 * @example
 * ```ts
 * collector.gather();
 * const body = renderMetrics(collector, states, clock.now()); // "# HELP sluice_build_info ..."
 * ```
 */
export function renderMetrics(
  collector: Collector,
  states: StateBook,
  now: number,
  reloads: ReloadMetrics = { success: 0, error: 0, lastSuccessWall: undefined, lastOk: true },
): string {
  const e = new Exposition();
  const { info } = collector;
  e.family("sluice_build_info", "gauge", "Version and runtime of the running Sluice.", [
    [{ version: info.version, runtime: info.runtime, runtime_version: info.runtimeVersion }, 1],
  ]);
  e.family("sluice_start_time_seconds", "gauge", "Start time of the process since the Unix epoch.", [
    [{}, collector.startedWall / 1000],
  ]);
  e.family("sluice_config_reloads_total", "counter", "Configuration reloads (file, SIGHUP, API), by result.", [
    [{ result: "success" }, reloads.success],
    [{ result: "error" }, reloads.error],
  ]);
  e.family(
    "sluice_config_last_reload_success_timestamp_seconds",
    "gauge",
    "When the configuration last changed successfully (the start when it never did), since the Unix epoch.",
    [[{}, (reloads.lastSuccessWall ?? collector.startedWall) / 1000]],
  );
  e.family(
    "sluice_config_last_reload_successful",
    "gauge",
    "1 when the last reload succeeded (or none was tried), 0 while the configuration in force is older than a failed one.",
    [[{}, reloads.lastOk ? 1 : 0]],
  );

  // A retired entity still draining may share its labels with the one that replaced it; one series per label set.
  const listeners = collector.listeners().filter((s) => !s.retired);
  const l = (name: string) => ({ listener: name });
  e.family(
    "sluice_listener_connections_total",
    "counter",
    "Client connections accepted.",
    listeners.map((s) => [l(s.name), s.connections]),
  );
  e.family(
    "sluice_listener_active_connections",
    "gauge",
    "Client connections open now.",
    listeners.map((s) => [l(s.name), s.active]),
  );
  e.family(
    "sluice_listener_rejected_connections_total",
    "counter",
    "Client connections closed before relaying, by reason.",
    listeners.flatMap((s) =>
      REJECT_REASONS.map((r) => [{ ...l(s.name), reason: r }, s.rejected[r]] as [Labels, number])
    ),
  );
  e.histogram(
    "sluice_listener_connect_duration_seconds",
    "Time to connect to a backend, for connects that succeeded.",
    listeners.map((s) => [l(s.name), s.connectTime, s.connectMs / 1000, s.connected]),
  );
  e.histogram(
    "sluice_listener_connection_duration_seconds",
    "How long closed connections (and UDP sessions) lasted.",
    listeners.map((s) => [l(s.name), s.duration, s.durationMs / 1000, s.connections - s.active]),
  );
  e.family(
    "sluice_listener_received_bytes_total",
    "counter",
    "Bytes received from clients.",
    listeners.map((s) => [l(s.name), s.toUpstream]),
  );
  e.family(
    "sluice_listener_sent_bytes_total",
    "counter",
    "Bytes sent to clients.",
    listeners.map((s) => [l(s.name), s.toClient]),
  );

  const backends = collector.backends().filter((s) => !s.retired);
  const b = (s: { listener: { name: string }; name: string }) => ({ listener: s.listener.name, backend: s.name });
  e.family(
    "sluice_upstream_up",
    "gauge",
    "1 when the backend takes new connections, 0 when it is out.",
    backends.map((s) => [b(s), shownState(states, s, now) === "up" ? 1 : 0]),
  );
  e.family(
    "sluice_upstream_state",
    "gauge",
    "1 for the backend's state (up, down, ejected, draining, drained, disabled), 0 for the others: tells an operator's " +
      "drain from a failed check.",
    backends.flatMap((s) => {
      const state = shownState(states, s, now);
      return SHOWN_STATES.map((name) => [{ ...b(s), state: name }, name === state ? 1 : 0] as [Labels, number]);
    }),
  );
  e.family(
    "sluice_upstream_connections_total",
    "counter",
    "Connections established to the backend.",
    backends.map((s) => [b(s), s.connections]),
  );
  e.family(
    "sluice_upstream_active_connections",
    "gauge",
    "Connections open or being opened to the backend.",
    backends.map((s) => [b(s), s.active]),
  );
  e.family(
    "sluice_upstream_connect_errors_total",
    "counter",
    "Failed connects to the backend, by reason.",
    backends.flatMap((s) =>
      CONNECT_FAILURES.map((r) => [{ ...b(s), reason: r }, s.connectErrors[r]] as [Labels, number])
    ),
  );
  e.family(
    "sluice_upstream_ejections_total",
    "counter",
    "Times passive failure detection took the backend out.",
    backends.map((s) => [b(s), s.ejections]),
  );
  e.family(
    "sluice_upstream_health_transitions_total",
    "counter",
    "Times active health checks changed the backend's health.",
    backends.map((s) => [b(s), s.healthTransitions]),
  );
  e.family(
    "sluice_upstream_sent_bytes_total",
    "counter",
    "Bytes sent to the backend.",
    backends.map((s) => [b(s), s.toUpstream]),
  );
  e.family(
    "sluice_upstream_received_bytes_total",
    "counter",
    "Bytes received from the backend.",
    backends.map((s) => [b(s), s.toClient]),
  );
  const udp = listeners.filter((s) => s.protocol === "udp");
  if (udp.length > 0) {
    e.family(
      "sluice_udp_datagrams_total",
      "counter",
      "Datagrams relayed by UDP listeners, by direction.",
      udp.flatMap((s) => [
        [{ ...l(s.name), direction: "to_upstream" }, s.datagramsToUpstream] as [Labels, number],
        [{ ...l(s.name), direction: "to_client" }, s.datagramsToClient] as [Labels, number],
      ]),
    );
    e.family(
      "sluice_udp_dropped_datagrams_total",
      "counter",
      "Client datagrams UDP listeners dropped, by reason.",
      udp.flatMap((s) => DROP_REASONS.map((r) => [{ ...l(s.name), reason: r }, s.dropped[r]] as [Labels, number])),
    );
    e.family(
      "sluice_udp_active_sessions",
      "gauge",
      "UDP sessions (client address and port) open now.",
      udp.map((s) => [l(s.name), s.active]),
    );
  }
  return e.text();
}
