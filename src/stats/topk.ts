/**
 * Heavy hitters in bounded memory: the Space-Saving sketch (Metwally,
 * Agrawal, El Abbadi, "Efficient computation of frequent and top-k elements
 * in data streams", 2005), weighted, with a merge for sketches kept on
 * several threads or in several time buckets.
 *
 * Guarantee of one sketch of capacity k that has seen a total weight N:
 * every listed count over-estimates the key's true weight by at most its
 * `error` (true ∈ [count - error, count]), `error` ≤ N/k, and a key that is
 * not listed has a true weight of at most `floor` ≤ N/k; so every key with
 * more than N/k is listed. Merging adds the parts' bounds (see
 * {@linkcode mergeSketches}).
 *
 * @module
 */

/** One monitored key: `count` over-estimates its true weight by at most `error`. */
export interface TopEntry {
  key: string;
  count: number;
  error: number;
}

/**
 * A sketch as plain data (structured-clone-able, JSON-able), for merging and
 * for sending between threads. `floor` bounds the true weight of any key not
 * in `entries`; `total` is the weight seen.
 */
export interface SketchSnapshot {
  total: number;
  floor: number;
  entries: TopEntry[];
}

interface Slot extends TopEntry {
  /** Position in the heap. */
  at: number;
}

/**
 * A Space-Saving sketch: at most `capacity` keys, a min-heap on count so an
 * update is one map lookup and O(log k) swaps, and no allocation once full.
 */
export class SpaceSaving {
  readonly capacity: number;
  private readonly slots = new Map<string, Slot>();
  private readonly heap: Slot[] = [];
  private seen = 0;
  private evicted = false;

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new Error(`capacity must be at least 1, got ${capacity}`);
    this.capacity = capacity;
  }

  /** Keys monitored now; never more than `capacity`. */
  get size(): number {
    return this.heap.length;
  }

  /** Total weight added since the last clear. */
  get total(): number {
    return this.seen;
  }

  /** The most an unlisted key can have: the smallest count once a key was evicted, 0 before. */
  get floor(): number {
    return this.evicted ? this.heap[0].count : 0;
  }

  /** Adds `weight` (> 0) to `key`; when full, an unmonitored key takes over the smallest entry. */
  add(key: string, weight: number): void {
    if (!(weight > 0)) return; // a count may only grow: the heap moves entries down, never up
    this.seen += weight;
    let slot = this.slots.get(key);
    if (slot !== undefined) {
      slot.count += weight;
      this.down(slot.at);
      return;
    }
    const heap = this.heap;
    if (heap.length < this.capacity) {
      slot = { key, count: weight, error: 0, at: heap.length };
      heap.push(slot);
      this.slots.set(key, slot);
      this.up(slot.at);
      return;
    }
    // The evicted key may have had up to the minimum: the newcomer inherits it as its error.
    slot = heap[0];
    this.evicted = true;
    this.slots.delete(slot.key);
    slot.key = key;
    slot.error = slot.count;
    slot.count += weight;
    this.slots.set(key, slot);
    this.down(0);
  }

  /** Forgets everything, keeping the allocated slots for reuse. */
  clear(): void {
    this.slots.clear();
    this.heap.length = 0;
    this.seen = 0;
    this.evicted = false;
  }

  /** A copy as plain data, largest count first. */
  snapshot(): SketchSnapshot {
    const entries = this.heap.map(({ key, count, error }) => ({ key, count, error }));
    return { total: this.seen, floor: this.floor, entries: entries.sort(byCount) };
  }

  private up(i: number): void {
    const heap = this.heap;
    const slot = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].count <= slot.count) break;
      heap[i] = heap[parent];
      heap[i].at = i;
      i = parent;
    }
    heap[i] = slot;
    slot.at = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const slot = heap[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1].count < heap[child].count) child++;
      if (heap[child].count >= slot.count) break;
      heap[i] = heap[child];
      heap[i].at = i;
      i = child;
    }
    heap[i] = slot;
    slot.at = i;
  }
}

/** Largest count first; among equal counts the smaller error (the surer one), then by key for a stable order. */
function byCount(a: TopEntry, b: TopEntry): number {
  return b.count - a.count || a.error - b.error || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * Merges sketches of disjoint streams (threads, time buckets) into one of
 * `capacity` keys. A key missing from a part may have had up to that part's
 * `floor` there, so it is charged that much in both count and error; the
 * bounds add: with parts of plain sketches of capacity k over a total
 * weight N, each `error` is at most N/k, and `floor` (what an unlisted key
 * can have) at most 2N/k. Every entry's interval [count - error, count]
 * still holds the key's true weight.
 *
 * @example
 * ```ts
 * const merged = mergeSketches([a.snapshot(), b.snapshot()], 100);
 * ```
 */
export function mergeSketches(parts: readonly SketchSnapshot[], capacity: number): SketchSnapshot {
  let floors = 0;
  let total = 0;
  for (const part of parts) {
    floors += part.floor;
    total += part.total;
  }
  // Start every key as if absent from all parts, then swap each part's floor for what it knew.
  const sums = new Map<string, TopEntry>();
  for (const part of parts) {
    for (const { key, count, error } of part.entries) {
      let sum = sums.get(key);
      if (sum === undefined) sums.set(key, sum = { key, count: floors, error: floors });
      sum.count += count - part.floor;
      sum.error += error - part.floor;
    }
  }
  const all = [...sums.values()].sort(byCount);
  const dropped = all.length > capacity ? all[capacity].count : 0;
  return { total, floor: Math.max(floors, dropped), entries: all.slice(0, capacity) };
}
