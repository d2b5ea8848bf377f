/**
 * How worker threads publish their numbers: each worker owns one region of a
 * SharedArrayBuffer, and the main thread combines every region into its own
 * counters (and the passive-ejection input of its backend states). The
 * fields of each entity are declared once below; a configuration's layout
 * and its length follow from them. Word 0 of a region holds the layout's
 * version, so a reload can change the layout and readers skip a region
 * still written in an older one. A read that overlaps a write may mix two
 * publishes of one worker, as a read of any live counter may.
 *
 * @module
 */
import { backendKey, type Config } from "../config/schema.ts";
import type { Collector } from "../stats/collector.ts";
import {
  type BackendCounters,
  CONNECT_BUCKETS,
  CONNECT_FAILURES,
  DROP_REASONS,
  DURATION_BUCKETS,
  type Histogram,
  type ListenerCounters,
  REJECT_REASONS,
  type TotalCounters,
  type TrafficCounters,
} from "../stats/counters.ts";
import type { BackendState, StateBook } from "../upstream/state.ts";

/** One number per entity: how to read and write it, and how workers' values combine. */
interface Field<E> {
  readonly name: string;
  get(entity: E): number;
  set(entity: E, value: number): void;
  /** `sum` for counters; `max` for flags (a backend is shown ejected when any thread has it out). */
  readonly combine: "sum" | "max";
}

type Counted =
  | "connections"
  | "active"
  | "toUpstream"
  | "toClient"
  | "connected"
  | "connectMs"
  | "datagramsToUpstream"
  | "datagramsToClient";
const counted = (name: Counted): Field<TrafficCounters> => ({
  name,
  get: (e) => e[name],
  set: (e, v) => void (e[name] = v),
  combine: "sum",
});
const TRAFFIC = ([
  "connections",
  "active",
  "toUpstream",
  "toClient",
  "connected",
  "connectMs",
  "datagramsToUpstream",
  "datagramsToClient",
] as const).map(counted);

/** A backend in a layout: its counters and its state. */
interface BackendEntity {
  readonly counters: BackendCounters;
  readonly state: BackendState;
}

const TOTAL_FIELDS: readonly Field<TotalCounters>[] = [
  ...TRAFFIC,
  { name: "refused", get: (e) => e.refusedTotal, set: (e, v) => void (e.refusedTotal = v), combine: "sum" },
  { name: "exhausted", get: (e) => e.exhausted, set: (e, v) => void (e.exhausted = v), combine: "max" },
];

/** The slots of a histogram of each listener: every bucket (its sum and count are other fields). */
function histogramFields(
  name: string,
  of: (e: ListenerCounters) => Histogram,
  buckets: number,
): Field<ListenerCounters>[] {
  return [
    ...Array.from({ length: buckets + 1 }, (_, i): Field<ListenerCounters> => ({
      name: `${name}.${i}`,
      get: (e) => of(e).counts[i],
      set: (e, v) => void (of(e).counts[i] = v),
      combine: "sum",
    })),
  ];
}

const LISTENER_FIELDS: readonly Field<ListenerCounters>[] = [
  ...TRAFFIC,
  ...histogramFields("connectTime", (e) => e.connectTime, CONNECT_BUCKETS.length),
  ...histogramFields("duration", (e) => e.duration, DURATION_BUCKETS.length),
  { name: "durationMs", get: (e) => e.durationMs, set: (e, v) => void (e.durationMs = v), combine: "sum" },
  ...DROP_REASONS.map((r): Field<ListenerCounters> => ({
    name: `dropped.${r}`,
    get: (e) => e.dropped[r],
    set: (e, v) => void (e.dropped[r] = v),
    combine: "sum",
  })),
  ...REJECT_REASONS.map((r): Field<ListenerCounters> => ({
    name: `rejected.${r}`,
    get: (e) => e.rejected[r],
    set: (e, v) => void (e.rejected[r] = v),
    combine: "sum",
  })),
];

const BACKEND_FIELDS: readonly Field<BackendEntity>[] = [
  ...TRAFFIC.map((f): Field<BackendEntity> => ({
    name: f.name,
    get: (e) => f.get(e.counters),
    set: (e, v) => f.set(e.counters, v),
    combine: "sum",
  })),
  ...CONNECT_FAILURES.map((r): Field<BackendEntity> => ({
    name: `connectErrors.${r}`,
    get: (e) => e.counters.connectErrors[r],
    set: (e, v) => void (e.counters.connectErrors[r] = v),
    combine: "sum",
  })),
  {
    name: "ejections",
    get: (e) => e.counters.ejections,
    set: (e, v) => void (e.counters.ejections = v),
    combine: "sum",
  },
  {
    name: "ejected",
    get: (e) => (e.state.ejected ? 1 : 0),
    set: (e, v) => e.state.mirrorEjected(v > 0),
    combine: "max",
  },
];

/** The shape of every region for one configuration. */
export interface Layout {
  /** Written to word 0 of each region; readers skip regions of another version. */
  readonly version: number;
  /** Words per region, the version word included. */
  readonly length: number;
  readonly config: Config;
}

/**
 * The layout of `config`.
 *
 * @example
 * ```ts
 * const layout = layoutOf(config, 1);
 * const buffer = new SharedArrayBuffer(workers * layout.length * 8);
 * ```
 */
export function layoutOf(config: Config, version: number): Layout {
  let length = 1 + TOTAL_FIELDS.length;
  for (const l of config.listeners) length += LISTENER_FIELDS.length + l.backends.length * BACKEND_FIELDS.length;
  return { version, length, config };
}

/** A field bound to one entity, in region order. */
interface Slot {
  get(): number;
  set(value: number): void;
  readonly combine: "sum" | "max";
}

function bind<E>(fields: readonly Field<E>[], entity: E): Slot[] {
  return fields.map((f) => ({ get: () => f.get(entity), set: (v) => f.set(entity, v), combine: f.combine }));
}

/** Every slot of `layout` over a thread's collector and states, in region order (after the version word). */
function slotsOf(layout: Layout, collector: Collector, states: StateBook): Slot[] {
  const slots = bind(TOTAL_FIELDS, collector.total);
  for (const l of layout.config.listeners) {
    const listener = collector.listener(l.key, l.name);
    slots.push(...bind(LISTENER_FIELDS, listener));
    for (const b of l.backends) {
      const key = backendKey(b);
      const entity = { counters: collector.backend(listener, key, b.name), state: states.get(l.key, key, l) };
      slots.push(...bind(BACKEND_FIELDS, entity));
    }
  }
  if (slots.length + 1 !== layout.length) {
    throw new Error(`layout ${layout.version}: ${slots.length + 1} slots, expected ${layout.length}`);
  }
  return slots;
}

/**
 * Worker side: a function that copies the thread's numbers into its region.
 * Call `collector.gather()` first so live bytes are folded in.
 */
export function regionWriter(
  layout: Layout,
  collector: Collector,
  states: StateBook,
  region: Float64Array,
): () => void {
  const slots = slotsOf(layout, collector, states);
  return () => {
    for (let i = 0; i < slots.length; i++) region[i + 1] = slots[i].get();
    // Never cleared while writing: a reader that skipped a region mid-write would see its counters drop.
    region[0] = layout.version;
  };
}

/** Main side: a function that sets the main thread's numbers to the combination of every region of this version. */
export function regionMerger(
  layout: Layout,
  collector: Collector,
  states: StateBook,
  regions: readonly Float64Array[],
): () => void {
  const slots = slotsOf(layout, collector, states);
  return () => {
    const current = regions.filter((r) => r[0] === layout.version);
    if (current.length === 0) return;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      let value = 0;
      for (const region of current) {
        value = slot.combine === "sum" ? value + region[i + 1] : Math.max(value, region[i + 1]);
      }
      slot.set(value);
    }
  };
}
