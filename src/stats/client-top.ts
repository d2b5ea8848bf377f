/**
 * Top client IPs by bytes and by connections, over the last minute and since
 * start, in bounded memory: Space-Saving sketches ({@linkcode SpaceSaving})
 * of {@linkcode TOP_CAPACITY} keys each. One {@linkcode ClientTop} per
 * thread; {@linkcode topView} merges them (worker threads send
 * {@linkcode ClientTop.snapshot}).
 *
 * "Last minute" is the current 10-second bucket plus the six before it, so
 * 60 to 70 seconds of traffic on the thread's own clock; a bucket older than
 * that is dropped as a whole.
 *
 * @module
 */
import { mergeSketches, type SketchSnapshot, SpaceSaving } from "./topk.ts";

/**
 * Keys kept per sketch. The view shows at most 20, and 100 keeps each
 * count within 1% of the window's total (N/k) while a thread holds at most
 * 16 sketches x 100 entries, whatever the number of distinct clients.
 */
export const TOP_CAPACITY = 100;
/** Most clients a view lists. */
export const TOP_LIMIT_MAX = 20;
/** Width of one bucket of the last-minute window. */
export const TOP_BUCKET_MS = 10_000;
/** Buckets in the last-minute window: the current one and six whole ones before it. */
const WINDOW_BUCKETS = 7;

/** What clients are ranked by: bytes both ways, or sessions opened (a UDP session counts as a connection). */
export type TopBy = "bytes" | "connections";

/** One measure of one thread as plain data: the since-start sketch and the last minute's buckets (empty ones left out). */
export interface TopWindows {
  since_start: SketchSnapshot;
  last_minute: SketchSnapshot[];
}

/** A thread's {@linkcode ClientTop} as plain data (structured-clone-able: what a worker posts). */
export interface TopSnapshot {
  bytes: TopWindows;
  connections: TopWindows;
}

class Measure {
  readonly since = new SpaceSaving(TOP_CAPACITY);
  readonly buckets = Array.from({ length: WINDOW_BUCKETS }, () => new SpaceSaving(TOP_CAPACITY));
  current = this.buckets[0];

  add(key: string, weight: number): void {
    this.since.add(key, weight);
    this.current.add(key, weight);
  }
}

/**
 * The host as a ranking key: already bare as the adapters report it
 * (no port, no brackets); an IPv4-mapped IPv6 address is taken as IPv4, as
 * `anonymize_ips` and CIDR filters take it.
 */
export function clientKey(host: string): string {
  if (host.charCodeAt(0) === 91 /* [ */) host = host.slice(1, host.indexOf("]"));
  return host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}

/**
 * One thread's top clients. Every method takes the monotonic `now` (ms) of
 * the thread's clock, so tests drive it with a manual one; the window
 * moves on when an update or a snapshot sees a later bucket.
 */
export class ClientTop {
  private readonly bytesBy = new Measure();
  private readonly connectionsBy = new Measure();
  /** The bucket each slot holds (its start / TOP_BUCKET_MS). */
  private readonly epochs: number[] = new Array(WINDOW_BUCKETS).fill(-Infinity);
  private epoch = -Infinity;
  private bucketEnd = -Infinity;

  /** Counts a session opened by `host`. */
  connection(host: string, now: number): void {
    if (now >= this.bucketEnd) this.rotate(now);
    this.connectionsBy.add(clientKey(host), 1);
  }

  /** Adds `bytes` (both ways) moved for `host`. */
  bytes(host: string, bytes: number, now: number): void {
    if (bytes <= 0) return;
    if (now >= this.bucketEnd) this.rotate(now);
    this.bytesBy.add(clientKey(host), bytes);
  }

  /** This thread's sketches as plain data, the window taken at `now`. */
  snapshot(now: number): TopSnapshot {
    const newest = Math.max(Math.floor(now / TOP_BUCKET_MS), this.epoch);
    const windows = (measure: Measure): TopWindows => ({
      since_start: measure.since.snapshot(),
      last_minute: measure.buckets
        .filter((bucket, slot) => this.epochs[slot] > newest - WINDOW_BUCKETS && bucket.total > 0)
        .map((bucket) => bucket.snapshot()),
    });
    return { bytes: windows(this.bytesBy), connections: windows(this.connectionsBy) };
  }

  /** Entries held across all sketches; bounded by 16 x {@linkcode TOP_CAPACITY}. */
  get entries(): number {
    const count = (m: Measure) => m.since.size + m.buckets.reduce((sum, b) => sum + b.size, 0);
    return count(this.bytesBy) + count(this.connectionsBy);
  }

  private rotate(now: number): void {
    const epoch = Math.floor(now / TOP_BUCKET_MS);
    const slot = ((epoch % WINDOW_BUCKETS) + WINDOW_BUCKETS) % WINDOW_BUCKETS;
    this.epoch = epoch;
    this.bucketEnd = (epoch + 1) * TOP_BUCKET_MS;
    for (const measure of [this.bytesBy, this.connectionsBy]) {
      measure.current = measure.buckets[slot];
      // The slot last held a bucket at least WINDOW_BUCKETS old.
      if (this.epochs[slot] !== epoch) measure.current.clear();
    }
    this.epochs[slot] = epoch;
  }
}

/** One listed client: its true count lies in [count - error, count]. */
export interface TopClient {
  client: string;
  count: number;
  error: number;
}

/** One window of a {@linkcode TopView}. */
export interface TopWindowView {
  /** Weight seen in the window over all clients (bytes or connections). */
  total: number;
  /** No client missing from the sketch has more than this (0: every client seen is in the sketch). */
  bound: number;
  clients: TopClient[];
}

/** What `/api/v1/top` shows. */
export interface TopView {
  by: TopBy;
  last_minute: TopWindowView;
  since_start: TopWindowView;
}

/**
 * Merges the threads' top clients into the `limit` (1-20) largest of each
 * window. `parts` are this thread's {@linkcode ClientTop} (snapshotted at
 * `now`) and snapshots posted by workers, each taken on its own clock.
 *
 * @example
 * ```ts
 * topView([sessions.top, ...workerSnapshots], "bytes", clock.now(), 10);
 * ```
 */
export function topView(
  parts: readonly (ClientTop | TopSnapshot)[],
  by: TopBy,
  now: number,
  limit = 10,
): TopView {
  const windows = parts.map((part) => (part instanceof ClientTop ? part.snapshot(now) : part)[by]);
  const shown = (sketch: SketchSnapshot): TopWindowView => ({
    total: sketch.total,
    bound: sketch.floor,
    clients: sketch.entries.slice(0, Math.max(1, Math.min(TOP_LIMIT_MAX, limit)))
      .map(({ key, count, error }) => ({ client: key, count, error })),
  });
  return {
    by,
    last_minute: shown(mergeSketches(windows.flatMap((w) => w.last_minute), TOP_CAPACITY)),
    since_start: shown(mergeSketches(windows.map((w) => w.since_start), TOP_CAPACITY)),
  };
}
