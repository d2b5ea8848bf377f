/**
 * The history snapshot: the day rings (minute points; five-minute points for
 * backends) of every entity, saved as JSON and put back at start, so charts
 * survive a restart. Pure: reading and writing the file is the caller's.
 *
 * @module
 */
import type { Collector } from "./collector.ts";
import { SERIES } from "./history.ts";

/** Bumped whenever the layout below changes; a file of another version is ignored. */
export const SNAPSHOT_VERSION = 1;

/** The file's shape. */
export interface Snapshot {
  readonly format: "sluice-history";
  readonly version: number;
  /** Wall-clock ms when it was taken. */
  readonly saved: number;
  /** By entity id: seconds per point and each series' points, oldest first. */
  readonly entities: Record<string, { every: number; series: Record<string, number[]> }>;
}

/**
 * Takes the snapshot of a collector's day history.
 *
 * @example
 * ```ts
 * await host.writeTextFile(tmp, JSON.stringify(takeSnapshot(collector, clock.wallNow())));
 * ```
 */
export function takeSnapshot(collector: Collector, wallNow: number): Snapshot {
  const entities: Snapshot["entities"] = {};
  for (const [id, history] of collector.histories()) {
    const series: Record<string, number[]> = {};
    for (const name of SERIES) series[name] = history.series[name].day.toArray();
    entities[id] = { every: history.series.toUpstream.every, series };
  }
  return { format: "sluice-history", version: SNAPSHOT_VERSION, saved: wallNow, entities };
}

/**
 * Puts a snapshot's points back into the entities that still exist (by id,
 * at the same resolution), with zero points for the time in between.
 * Returns how many were restored, or why the snapshot was not used.
 */
export function restoreSnapshot(collector: Collector, value: unknown, wallNow: number): { restored: number } | {
  error: string;
} {
  const snapshot = value as Partial<Snapshot> | null;
  if (snapshot?.format !== "sluice-history" || typeof snapshot.entities !== "object" || !snapshot.entities) {
    return { error: "not a Sluice history snapshot" };
  }
  if (snapshot.version !== SNAPSHOT_VERSION) {
    return { error: `snapshot version ${snapshot.version}, this Sluice reads ${SNAPSHOT_VERSION}` };
  }
  const saved = typeof snapshot.saved === "number" ? snapshot.saved : wallNow;
  let restored = 0;
  for (const [id, history] of collector.histories()) {
    const entry = snapshot.entities[id];
    if (!entry || entry.every !== history.series.toUpstream.every) continue;
    const missed = Math.max(0, Math.floor((wallNow - saved) / (entry.every * 1000)));
    for (const name of SERIES) {
      const values = entry.series?.[name];
      if (Array.isArray(values)) history.series[name].restoreDay(values.map(Number), missed);
    }
    restored++;
  }
  return { restored };
}
