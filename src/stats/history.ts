/**
 * Fixed-memory history for charts, kept on the main thread only: per entity,
 * six series, each a ring of per-second points for the last 5 minutes and a
 * ring of coarser points for the last 24 hours. Points are `Float32Array`
 * values (charts need 7 digits, not 16); every point is a per-second figure
 * (a rate's mean over its bucket, a gauge's mean), so one unit fits every
 * resolution.
 *
 * @module
 */
import type { TrafficCounters } from "./counters.ts";

/** Per-second points kept: the last 5 minutes. */
export const SECONDS_KEPT = 300;
/** Seconds in a coarse point, and points kept, for a day. */
export const DAY_FINE = { every: 60, kept: 1440 } as const;
/** Backends keep 5-minute points for their day, so a thousand of them stay small. */
export const DAY_COARSE = { every: 300, kept: 288 } as const;

/**
 * A fixed-size ring of numbers: pushing past capacity overwrites the oldest.
 *
 * @example
 * ```ts
 * const r = new Ring(3);
 * r.push(1); r.push(2); r.push(3); r.push(4);
 * r.toArray(); // [2, 3, 4]
 * ```
 */
export class Ring {
  readonly capacity: number;
  readonly values: Float32Array;
  private next = 0;
  private filled = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.values = new Float32Array(capacity);
  }

  /** Number of values held (at most `capacity`). */
  get length(): number {
    return this.filled;
  }

  push(value: number): void {
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
    if (this.filled < this.capacity) this.filled++;
  }

  /** Forgets every value. */
  clear(): void {
    this.values.fill(0);
    this.next = 0;
    this.filled = 0;
  }

  /** The most recent value, or 0 when empty. */
  last(): number {
    return this.filled === 0 ? 0 : this.values[(this.next - 1 + this.capacity) % this.capacity];
  }

  /** Values oldest first; allocates, so for views, not the hot path. */
  toArray(): number[] {
    const out = new Array<number>(this.filled);
    const start = (this.next - this.filled + this.capacity) % this.capacity;
    for (let i = 0; i < this.filled; i++) out[i] = this.values[(start + i) % this.capacity];
    return out;
  }
}

/**
 * One figure over time: a point per second, and a point per `day.every`
 * seconds holding the mean of those seconds.
 *
 * @example
 * ```ts
 * const s = new Series(DAY_FINE);
 * s.add(5);
 * s.seconds.last(); // 5
 * ```
 */
export class Series {
  readonly seconds: Ring = new Ring(SECONDS_KEPT);
  readonly day: Ring;
  /** Seconds in one point of {@linkcode day}. */
  readonly every: number;
  private sum = 0;
  private count = 0;

  constructor(day: { every: number; kept: number }) {
    this.every = day.every;
    this.day = new Ring(day.kept);
  }

  /** Records one second's value; every `every`-th call closes a coarse point. */
  add(value: number): void {
    this.seconds.push(value);
    this.sum += value;
    if (++this.count === this.every) {
      this.day.push(this.sum / this.every);
      this.sum = 0;
      this.count = 0;
    }
  }

  /** Forgets every point (a stats reset). */
  clear(): void {
    this.seconds.clear();
    this.day.clear();
    this.sum = 0;
    this.count = 0;
  }

  /** Bytes of point storage, for the memory budget. */
  get bytes(): number {
    return this.seconds.values.byteLength + this.day.values.byteLength;
  }

  /**
   * Puts saved day points back (oldest first), then `missed` zero points for
   * the time the process was not running (at most a ring's worth).
   */
  restoreDay(values: readonly number[], missed: number): void {
    for (const value of values.slice(-this.day.capacity)) this.day.push(Number.isFinite(value) ? value : 0);
    for (let i = 0; i < Math.min(missed, this.day.capacity); i++) this.day.push(0);
  }
}

/** The series charted for every listener, backend and the total. */
export const SERIES = ["toUpstream", "toClient", "connections", "active", "refused", "connectMs"] as const;
/** One charted figure's name. */
export type SeriesName = (typeof SERIES)[number];

/** The history of one entity, sampled from its counters once a second. */
export class TrafficHistory {
  readonly series: Readonly<Record<SeriesName, Series>>;
  /** Most connections open at once in any sample since start or the last reset. */
  peakActive = 0;
  /** Most new connections in one second since start or the last reset. */
  peakConnections = 0;
  private seen = { toUpstream: 0, toClient: 0, connections: 0, refused: 0, connected: 0, connectMs: 0 };

  constructor(day: { every: number; kept: number }) {
    this.series = {
      toUpstream: new Series(day),
      toClient: new Series(day),
      connections: new Series(day),
      active: new Series(day),
      refused: new Series(day),
      connectMs: new Series(day),
    };
  }

  /** Pushes one second: deltas of the counters, the active gauge, and the mean time of that second's connects. */
  sample(counters: TrafficCounters): void {
    const s = this.series;
    const seen = this.seen;
    const connections = counters.connections - seen.connections;
    const connected = counters.connected - seen.connected;
    const refused = counters.refused;
    s.toUpstream.add(counters.toUpstream - seen.toUpstream);
    s.toClient.add(counters.toClient - seen.toClient);
    s.connections.add(connections);
    s.active.add(counters.active);
    if (connections > this.peakConnections) this.peakConnections = connections;
    if (counters.active > this.peakActive) this.peakActive = counters.active;
    s.refused.add(refused - seen.refused);
    s.connectMs.add(connected > 0 ? (counters.connectMs - seen.connectMs) / connected : 0);
    seen.toUpstream = counters.toUpstream;
    seen.toClient = counters.toClient;
    seen.connections = counters.connections;
    seen.refused = refused;
    seen.connected = counters.connected;
    seen.connectMs = counters.connectMs;
  }

  /** Forgets every point; the next sample counts from the counters as they are then. */
  clear(): void {
    for (const name of SERIES) this.series[name].clear();
    this.peakActive = 0;
    this.peakConnections = 0;
  }

  /** Bytes of point storage. */
  get bytes(): number {
    let sum = 0;
    for (const name of SERIES) sum += this.series[name].bytes;
    return sum;
  }
}
