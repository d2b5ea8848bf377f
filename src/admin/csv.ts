/**
 * `/api/v1/stats?format=csv`: one row per listener and per backend in a
 * fixed column order under a header line (as HAProxy's `;csv`), for
 * spreadsheets and scripts. A view of the collector and states, like the JSON.
 *
 * @module
 */
import type { Collector } from "../stats/collector.ts";
import type { BackendCounters, ListenerCounters } from "../stats/counters.ts";
import type { StateBook } from "../upstream/state.ts";
import { shownState } from "./views.ts";

/** The columns, in order; new columns are only ever added at the end. */
export const CSV_COLUMNS = [
  "type",
  "listener",
  "backend",
  "protocol",
  "state",
  "connections_total",
  "active_connections",
  "received_bytes_total",
  "sent_bytes_total",
  "rejected_total",
  "connect_errors_total",
  "ejections_total",
  "health_transitions_total",
  "last_check",
] as const;

/** Quotes a field when it holds a comma, quote or line break (RFC 4180). */
function field(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);

/**
 * The stats as CSV; call `collector.gather()` first.
 *
 * @example
 * ```ts
 * statsCsv(collector, states, clock.now()).split("\n")[0]; // "type,listener,backend,protocol,state,..."
 * ```
 */
export function statsCsv(collector: Collector, states: StateBook, now: number): string {
  const rows: (string | number)[][] = [[...CSV_COLUMNS]];
  const listenerRow = (l: ListenerCounters) => [
    "listener",
    l.name,
    "",
    l.protocol,
    "",
    l.connections,
    l.active,
    l.toUpstream,
    l.toClient,
    sum(l.rejected) + sum(l.dropped),
    "",
    "",
    "",
    "",
  ];
  const backendRow = (l: ListenerCounters, b: BackendCounters) => {
    const check = states.find(l.key, b.key)?.lastCheck;
    return [
      "backend",
      l.name,
      b.name,
      l.protocol,
      shownState(states, b, now),
      b.connections,
      b.active,
      b.toUpstream,
      b.toClient,
      "",
      sum(b.connectErrors),
      b.ejections,
      b.healthTransitions,
      check ? `${check.ok ? "ok" : "failed"}: ${check.reason}` : "",
    ];
  };
  for (const l of collector.listeners()) {
    rows.push(listenerRow(l));
    for (const b of collector.backends(l.key)) rows.push(backendRow(l, b));
  }
  return rows.map((row) => row.map(field).join(",")).join("\r\n") + "\r\n";
}
