/**
 * Counters of worker threads, added up in one view. Each worker owns one
 * fixed-size region of a SharedArrayBuffer and writes its counters there; the
 * main thread reads every region and sets its own collector's counters to the
 * sums. The layout follows the configuration's order of listeners and backends.
 *
 * @module
 */
import type { Config } from "../config/schema.ts";
import type { Collector } from "../stats/collector.ts";
import { CONNECT_FAILURES, REJECT_REASONS, type TrafficStats } from "../stats/entities.ts";

/** One number in the layout: how to read it, write it, and combine workers' values. */
interface Slot {
  get(): number;
  set(value: number): void;
  /** `sum` for counters; `min` for `up`, which is 1 only when every worker has the backend up. */
  combine: "sum" | "min";
}

function trafficSlots(stats: TrafficStats): Slot[] {
  return (["connections", "active", "bytesIn", "bytesOut"] as const).map((key) => ({
    get: () => stats[key],
    set: (value: number) => void (stats[key] = value),
    combine: "sum" as const,
  }));
}

/** The slots of a configuration over a collector, in layout order. */
function slotsOf(config: Config, collector: Collector): Slot[] {
  const slots = trafficSlots(collector.total);
  for (const listener of config.listeners) {
    const stats = collector.listener(listener.name);
    slots.push(...trafficSlots(stats));
    for (const reason of REJECT_REASONS) slots.push({ get: () => stats.rejected[reason], set: (v) => void (stats.rejected[reason] = v), combine: "sum" });
    for (const backend of listener.backends) {
      const b = collector.backend(listener.name, backend.name);
      slots.push(...trafficSlots(b));
      for (const reason of CONNECT_FAILURES) slots.push({ get: () => b.connectErrors[reason], set: (v) => void (b.connectErrors[reason] = v), combine: "sum" });
      slots.push({ get: () => b.ejections, set: (v) => void (b.ejections = v), combine: "sum" });
      slots.push({ get: () => (b.state === "up" ? 1 : 0), set: (v) => void (b.state = v >= 1 ? "up" : "ejected"), combine: "min" });
    }
  }
  return slots;
}

/** Numbers per worker region for `config`. */
export function regionLength(config: Config): number {
  return 4 + config.listeners.reduce((n, l) => n + 4 + REJECT_REASONS.length + l.backends.length * (4 + CONNECT_FAILURES.length + 2), 0);
}

/**
 * Worker side: copies the worker's counters into its region.
 *
 * @example
 * ```ts
 * const publish = statsWriter(config, collector, new Float64Array(buffer, offset, regionLength(config)));
 * setInterval(publish, 250);
 * ```
 */
export function statsWriter(config: Config, collector: Collector, region: Float64Array): () => void {
  const slots = slotsOf(config, collector);
  return () => {
    collector.table.foldAll();
    for (let i = 0; i < slots.length; i++) region[i] = slots[i].get();
  };
}

/** Main side: sets the collector's counters to the combination of every worker's region. */
export function statsMerger(config: Config, collector: Collector, regions: readonly Float64Array[]): () => void {
  const slots = slotsOf(config, collector);
  return () => {
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      let value = slot.combine === "sum" ? 0 : Infinity;
      for (const region of regions) value = slot.combine === "sum" ? value + region[i] : Math.min(value, region[i]);
      slot.set(value);
    }
  };
}
