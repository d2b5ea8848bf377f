/**
 * The data behind the page's charts, carried by every refresh as one JSON
 * block: per entity the first point's time, the step, and the values, so the
 * page script updates each chart in place. Backends carry two series
 * (bytes each way summed, open connections) to keep a refresh small with
 * many of them; the total and listeners carry four.
 *
 * @module
 */
import type { Collector } from "../../stats/collector.ts";
import type { TrafficCounters } from "../../stats/counters.ts";
import { points, type TrafficWindow } from "../traffic.ts";

/** One entity's chart data: unix seconds of the first point, seconds per point, and series by name. */
export interface ChartSeries {
  t0: number;
  step: number;
  [series: string]: number | number[];
}

/** Chart data of every entity, keyed as the page's `data-chart` attributes name them (`total`, `l:KEY`, `b:KEY|ADDR`). */
export interface ChartData {
  window: TrafficWindow;
  series: Record<string, ChartSeries>;
}

const round = (values: number[], digits: number) => {
  const scale = 10 ** digits;
  return values.map((v) => Math.round(v * scale) / scale);
};

function seriesOf(collector: Collector, counters: TrafficCounters, window: TrafficWindow, full: boolean) {
  const history = collector.historyOf(counters);
  if (!history) return undefined;
  const s = history.series;
  const up = points(s.toUpstream, window);
  const down = points(s.toClient, window).values;
  const end = Math.floor(collector.lastSampleWall / 1000);
  const out: ChartSeries = {
    t0: end - (up.values.length - 1) * up.step,
    step: up.step,
    active: round(points(s.active, window).values, 1),
  };
  if (full) {
    out.in = round(up.values, 0);
    out.out = round(down, 0);
    out.new = round(points(s.connections, window).values, 2);
  } else {
    out.bytes = round(up.values.map((v, i) => v + (down[i] ?? 0)), 0);
  }
  return out;
}

/**
 * Chart data for the window: the total, each listener and each backend.
 *
 * @example
 * ```ts
 * chartData(collector, "5m").series.total.in; // up to 300 points of bytes/s from clients
 * ```
 */
export function chartData(collector: Collector, window: TrafficWindow): ChartData {
  const series: Record<string, ChartSeries> = {};
  const add = (id: string, counters: TrafficCounters, full: boolean) => {
    const s = seriesOf(collector, counters, window, full);
    if (s) series[id] = s;
  };
  add("total", collector.total, true);
  for (const l of collector.listeners()) {
    add(`l:${l.key}`, l, true);
    for (const b of collector.backends(l.key)) add(`b:${l.key}|${b.key}`, b, false);
  }
  return { window, series };
}
