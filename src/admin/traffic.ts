/**
 * `/api/v1/traffic`: the history rings shaped for charts — for the total,
 * each listener and each backend, one array of timestamps and one array per
 * figure. Read-only: it reads the collector's rings and copies nothing into
 * state of its own.
 *
 * @module
 */
import type { Collector } from "../stats/collector.ts";
import type { TrafficCounters } from "../stats/counters.ts";
import type { Series, TrafficHistory } from "../stats/history.ts";

/** Windows a chart can ask for. */
export const WINDOWS = { "5m": 300, "1h": 3600, "24h": 86_400 } as const;
/** One of {@linkcode WINDOWS}. */
export type TrafficWindow = keyof typeof WINDOWS;

/**
 * Reads a `window` query parameter (default `5m`), or says what is wrong. An own key only: `toString` is no window.
 *
 * @example
 * ```ts
 * parseWindow("1h"); // "1h"
 * parseWindow("2h"); // { error: 'window must be one of 5m, 1h, 24h, got "2h"' }
 * ```
 */
export function parseWindow(raw: string | undefined): TrafficWindow | { error: string } {
  const window = raw ?? "5m";
  if (Object.hasOwn(WINDOWS, window)) return window as TrafficWindow;
  return { error: `window must be one of ${Object.keys(WINDOWS).join(", ")}, got ${JSON.stringify(window)}` };
}

/** The series of one entity over a window. */
export interface TrafficSeries {
  scope: "total" | "listener" | "backend";
  listener?: string;
  backend?: string;
  /** Seconds between points. */
  step_seconds: number;
  /** Unix seconds of each point, oldest first. */
  timestamps: number[];
  received_bytes_per_second: number[];
  sent_bytes_per_second: number[];
  connections_per_second: number[];
  active_connections: number[];
  refused_per_second: number[];
  /** Mean connect time of the connects in each point, in ms (0 when there were none). */
  connect_ms: number[];
}

/** The newest points of a series that fit the window, at the resolution the window needs (seconds or the day ring). */
export function points(series: Series, window: TrafficWindow): { step: number; values: number[] } {
  const fine = window === "5m";
  const ring = fine ? series.seconds : series.day;
  const step = fine ? 1 : series.every;
  const all = ring.toArray();
  const count = Math.min(all.length, Math.ceil(WINDOWS[window] / step));
  return { step, values: all.slice(all.length - count).map((v) => Math.round(v * 1000) / 1000) };
}

function seriesOf(
  history: TrafficHistory,
  window: TrafficWindow,
  endSeconds: number,
  scope: Pick<TrafficSeries, "scope" | "listener" | "backend">,
): TrafficSeries {
  const s = history.series;
  const up = points(s.toUpstream, window);
  const timestamps = up.values.map((_, i) => endSeconds - (up.values.length - 1 - i) * up.step);
  return {
    ...scope,
    step_seconds: up.step,
    timestamps,
    received_bytes_per_second: up.values,
    sent_bytes_per_second: points(s.toClient, window).values,
    connections_per_second: points(s.connections, window).values,
    active_connections: points(s.active, window).values,
    refused_per_second: points(s.refused, window).values,
    connect_ms: points(s.connectMs, window).values,
  };
}

/**
 * The traffic history for a window, optionally narrowed to one listener
 * (by name) and one of its backends (by name).
 *
 * @example
 * ```ts
 * trafficView(collector, "5m", { listener: "web" }).series[0].received_bytes_per_second; // 300 points
 * ```
 */
export function trafficView(
  collector: Collector,
  window: TrafficWindow,
  filter: { listener?: string; backend?: string },
): { window: TrafficWindow; end: string; series: TrafficSeries[] } {
  const end = Math.floor(collector.lastSampleWall / 1000);
  const out: TrafficSeries[] = [];
  const add = (counters: TrafficCounters, scope: Pick<TrafficSeries, "scope" | "listener" | "backend">) => {
    const history = collector.historyOf(counters);
    if (history) out.push(seriesOf(history, window, end, scope));
  };
  if (filter.listener === undefined && filter.backend === undefined) add(collector.total, { scope: "total" });
  for (const listener of collector.listeners()) {
    if (filter.listener !== undefined && listener.name !== filter.listener) continue;
    if (filter.backend === undefined) add(listener, { scope: "listener", listener: listener.name });
    for (const backend of collector.backends(listener.key)) {
      if (filter.backend !== undefined && backend.name !== filter.backend) continue;
      add(backend, { scope: "backend", listener: listener.name, backend: backend.name });
    }
  }
  return { window, end: new Date(end * 1000).toISOString(), series: out };
}
