/**
 * The one owner of numbers: live counters per listener and backend (by key,
 * retired when they leave the configuration), the ring of recently closed
 * sessions, and (on the main thread) their history. The admin API, the status
 * page and `/metrics` only read from it.
 *
 * @module
 */
import type { Clock } from "../runtime/types.ts";
import { BackendCounters, ListenerCounters, TotalCounters, type TrafficCounters } from "./counters.ts";
import { DAY_COARSE, DAY_FINE, TrafficHistory } from "./history.ts";
import { RecentSessions } from "./recent.ts";

/** Facts about this process, for `sluice_build_info` and the API. */
export interface ProcessInfo {
  readonly version: string;
  readonly runtime: string;
  readonly runtimeVersion: string;
}

/** Options for {@linkcode Collector}. */
export interface CollectorOptions {
  /** Keep history (the main thread does; worker threads only count). Default true. */
  history?: boolean;
  /** Closed sessions kept for display. */
  recent?: number;
}

/** Owns every counter; `tick()` runs once a second. */
export class Collector {
  readonly info: ProcessInfo;
  readonly total: TotalCounters = new TotalCounters();
  readonly recent: RecentSessions;
  readonly startedWall: number;
  private readonly clock: Clock;
  private readonly listenerCounters = new Map<string, ListenerCounters>();
  private readonly backendCounters = new Map<string, BackendCounters>();
  private readonly history: Map<TrafficCounters, TrafficHistory> | undefined;
  private timer: unknown;
  /** Wall-clock ms of the last history sample; the newest point of every series is at this time. */
  lastSampleWall = 0;
  /** Clients turned away in the last second, by reason (listener rejections and UDP drops), summed over listeners. */
  refusedLastSecond: Record<string, number> = {};
  private refusedSeen: Record<string, number> = {};
  /** Steps that bring counters up to date before they are read: live sessions' bytes, other threads' sums. */
  private readonly sources: (() => void)[] = [];

  constructor(info: ProcessInfo, clock: Clock, options: CollectorOptions = {}) {
    this.info = info;
    this.clock = clock;
    this.recent = new RecentSessions(options.recent);
    this.startedWall = clock.wallNow();
    this.history = options.history === false ? undefined : new Map([[this.total, new TrafficHistory(DAY_FINE)]]);
  }

  /** The counters of the listener with `key`, created on first use; `name` relabels them. */
  listener(key: string, name: string): ListenerCounters {
    let counters = this.listenerCounters.get(key);
    if (!counters) {
      this.listenerCounters.set(key, counters = new ListenerCounters(key, name));
      this.history?.set(counters, new TrafficHistory(DAY_FINE));
    }
    counters.name = name;
    counters.retired = false;
    return counters;
  }

  /** The counters of backend `key` (its address) in `listener`'s pool; `name` relabels them. */
  backend(listener: ListenerCounters, key: string, name: string): BackendCounters {
    const id = `${listener.key}\u0000${key}`;
    let counters = this.backendCounters.get(id);
    if (!counters) {
      this.backendCounters.set(id, counters = new BackendCounters(listener, key, name));
      this.history?.set(counters, new TrafficHistory(DAY_COARSE));
    }
    counters.name = name;
    counters.retired = false;
    return counters;
  }

  /** Marks counters whose entity left the configuration; they are forgotten once nothing is active on them. */
  retire(counters: ListenerCounters | BackendCounters): void {
    counters.retired = true;
    if (counters instanceof ListenerCounters) {
      for (const backend of this.backendCounters.values()) if (backend.listener === counters) backend.retired = true;
    }
  }

  /** Every listener's counters, in registration order. */
  listeners(): ListenerCounters[] {
    return [...this.listenerCounters.values()];
  }

  /** Every backend's counters, optionally only one listener's (by key). */
  backends(listenerKey?: string): BackendCounters[] {
    const all = [...this.backendCounters.values()];
    return listenerKey === undefined ? all : all.filter((b) => b.listener.key === listenerKey);
  }

  /** The history of an entity; undefined on threads that keep none. */
  historyOf(counters: TrafficCounters): TrafficHistory | undefined {
    return this.history?.get(counters);
  }

  /**
   * Every kept history with a stable id (`total`, `listener <key>`,
   * `backend <listener key> <address>`), for the snapshot file.
   */
  histories(): [string, TrafficHistory][] {
    if (!this.history) return [];
    const out: [string, TrafficHistory][] = [["total", this.history.get(this.total)!]];
    for (const l of this.listenerCounters.values()) out.push([`listener ${l.key}`, this.history.get(l)!]);
    for (const b of this.backendCounters.values()) {
      out.push([`backend ${b.listener.key} ${b.key}`, this.history.get(b)!]);
    }
    return out;
  }

  /** Forgets every history point (a stats reset); counters, and so `/metrics`, stay as they are. */
  clearHistory(): void {
    for (const history of this.history?.values() ?? []) history.clear();
  }

  /** Adds a step that {@linkcode gather} runs. */
  addSource(gather: () => void): void {
    this.sources.push(gather);
  }

  /** Makes every counter current: folds live bytes and pulls in other threads' counters. */
  gather(): void {
    for (const gather of this.sources) gather();
  }

  /** Gathers, records one second of history, and forgets retired entities that are idle. */
  tick(): void {
    this.gather();
    if (this.history) { for (const [counters, history] of this.history) history.sample(counters); }
    this.sampleRefusals();
    this.lastSampleWall = this.clock.wallNow();
    this.forgetRetired();
  }

  /** Per-reason refusals of the last second; a forgotten listener lowers the sum, so a drop counts as zero. */
  private sampleRefusals(): void {
    const sums: Record<string, number> = {};
    for (const l of this.listenerCounters.values()) {
      for (const [reason, n] of Object.entries(l.rejected)) sums[reason] = (sums[reason] ?? 0) + n;
      for (const [reason, n] of Object.entries(l.dropped)) sums[reason] = (sums[reason] ?? 0) + n;
    }
    const rates: Record<string, number> = {};
    for (const [reason, n] of Object.entries(sums)) rates[reason] = Math.max(0, n - (this.refusedSeen[reason] ?? n));
    this.refusedLastSecond = rates;
    this.refusedSeen = sums;
  }

  /** Forgets retired entities that nothing is active on any more (worker threads call it; they have no tick). */
  forgetRetired(): void {
    for (const [id, counters] of this.backendCounters) {
      if (counters.retired && counters.active === 0) {
        this.backendCounters.delete(id);
        this.history?.delete(counters);
      }
    }
    for (const [key, counters] of this.listenerCounters) {
      if (counters.retired && counters.active === 0 && !this.backends(key).length) {
        this.listenerCounters.delete(key);
        this.history?.delete(counters);
      }
    }
  }

  /** Starts the 1 Hz tick. */
  start(): void {
    this.timer ??= this.clock.setInterval(() => this.tick(), 1000);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Seconds since start. */
  uptimeSeconds(): number {
    return (this.clock.wallNow() - this.startedWall) / 1000;
  }
}
