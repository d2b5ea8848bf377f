/**
 * The one owner of numbers: live counters per listener and backend, the
 * connection table, and their history. The admin API, the status page and
 * `/metrics` only read from it.
 *
 * @module
 */
import type { Clock } from "../runtime/types.ts";
import { ConnectionTable } from "./connections.ts";
import { BackendStats, ListenerStats, TotalStats } from "./entities.ts";

/** Facts about this process, for `sluice_build_info` and the API. */
export interface ProcessInfo {
  readonly version: string;
  readonly runtime: string;
  readonly runtimeVersion: string;
}

/** Owns every counter and series; `tick()` runs once a second. */
export class Collector {
  readonly total = new TotalStats();
  readonly table: ConnectionTable;
  readonly startedWall: number;
  private readonly listenerStats = new Map<string, ListenerStats>();
  private readonly backendStats = new Map<string, BackendStats>();
  private timer: unknown;
  /** Brings counters up to date before they are read (worker threads' sums, in worker mode). */
  private readonly refreshers: (() => void)[] = [];

  constructor(readonly info: ProcessInfo, private readonly clock: Clock, ids?: { worker: number; workers: number }) {
    this.table = new ConnectionTable(this.total, 256, ids);
    this.startedWall = clock.wallNow();
  }

  /** The listener's counters, created on first use and kept across reloads. */
  listener(name: string): ListenerStats {
    let stats = this.listenerStats.get(name);
    if (!stats) this.listenerStats.set(name, (stats = new ListenerStats(name)));
    return stats;
  }

  /** The counters of backend `name` in `listener`'s pool. */
  backend(listener: string, name: string): BackendStats {
    const key = `${listener}\u0000${name}`;
    let stats = this.backendStats.get(key);
    if (!stats) this.backendStats.set(key, (stats = new BackendStats(listener, name)));
    return stats;
  }

  /** Every listener's counters, in registration order. */
  listeners(): ListenerStats[] {
    return [...this.listenerStats.values()];
  }

  /** Every backend's counters, optionally only one listener's. */
  backends(listener?: string): BackendStats[] {
    const all = [...this.backendStats.values()];
    return listener === undefined ? all : all.filter((b) => b.listener === listener);
  }

  /** Adds a step that {@linkcode refresh} runs. */
  addRefresher(refresh: () => void): void {
    this.refreshers.push(refresh);
  }

  /** Makes every counter current: folds live bytes and pulls in other threads' counters. */
  refresh(): void {
    this.table.foldAll();
    for (const refresh of this.refreshers) refresh();
  }

  /** Refreshes counters and records one second of history. */
  tick(): void {
    this.refresh();
    this.total.sample();
    for (const stats of this.listenerStats.values()) stats.sample();
    for (const stats of this.backendStats.values()) stats.sample();
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
