/**
 * Live counters for a listener, a backend and the whole proxy: plain number
 * fields the data path adds to, and nothing else. Counters never decide
 * anything; state lives in `src/upstream/state.ts`.
 *
 * @module
 */
import { CONNECT_FAILURES, type ConnectFailure } from "../runtime/types.ts";

export { CONNECT_FAILURES, type ConnectFailure };

/** Why a UDP datagram from a client was dropped. */
export type DropReason = "max_sessions" | "queue_full" | "no_backend" | "send_error";
/** All drop reasons. */
export const DROP_REASONS: readonly DropReason[] = ["max_sessions", "queue_full", "no_backend", "send_error"];

/** Why a client was turned away before any bytes were relayed. */
export type RejectReason = "no_backend" | "max_connections" | "local";
/** All reject reasons, so counters start at zero and metrics show every label. */
export const REJECT_REASONS: readonly RejectReason[] = ["no_backend", "max_connections", "local"];

const zeroes = <K extends string>(keys: readonly K[]) =>
  Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

function sumOf(counts: Record<string, number>): number {
  let sum = 0;
  for (const key in counts) sum += counts[key];
  return sum;
}

/** Counters every traffic-carrying entity has. */
export class TrafficCounters {
  /** Connections accepted (listener, total) or established (backend), ever. */
  connections = 0;
  /** Connections open now (for a backend: also those being dialled). */
  active = 0;
  /** Bytes from clients toward backends, ever, as of the last fold. */
  toUpstream = 0;
  /** Bytes from backends toward clients, ever, as of the last fold. */
  toClient = 0;
  /** Successful connects to a backend, ever (for a listener, fewer than `connections` when dials fail). */
  connected = 0;
  /** Milliseconds spent in successful connects, summed; over `connected` it is the mean connect time. */
  connectMs = 0;
  /** UDP: datagrams from clients passed to backends, ever. */
  datagramsToUpstream = 0;
  /** UDP: datagrams from backends passed to clients, ever. */
  datagramsToClient = 0;
  /** Set when the entity left the configuration; the collector forgets it once nothing is active. */
  retired = false;

  /** Clients refused (listener, total) or failed connects (backend), ever. */
  get refused(): number {
    return 0;
  }
}

/** Upper bounds (seconds) of the connect-time histogram's buckets. */
export const CONNECT_BUCKETS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];
/** Upper bounds (seconds) of the connection-duration histogram's buckets. */
export const DURATION_BUCKETS: readonly number[] = [0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 21600, 86400];

/**
 * The buckets of a histogram: counts per bucket (not cumulative; the last
 * slot is above every bound). Its sum and count are counters the owner keeps
 * anyway (`connectMs`/`connected`, `durationMs`/closed connections), so they
 * are not kept twice. `observe` is a short scan and one addition.
 */
export class Histogram {
  readonly bounds: readonly number[];
  readonly counts: Float64Array;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one value, in seconds. */
  observe(seconds: number): void {
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]) i++;
    this.counts[i]++;
  }
}

/** A listener's counters. `key` is its identity; `name` only a label that a reload may change. */
export class ListenerCounters extends TrafficCounters {
  readonly key: string;
  name: string;
  readonly rejected: Record<RejectReason, number> = zeroes(REJECT_REASONS);
  /** UDP: client datagrams dropped, by reason. */
  readonly dropped: Record<DropReason, number> = zeroes(DROP_REASONS);
  /** Time of successful connects to this listener's backends. */
  readonly connectTime: Histogram = new Histogram(CONNECT_BUCKETS);
  /** How long this listener's connections (and UDP sessions) lasted, once closed. */
  readonly duration: Histogram = new Histogram(DURATION_BUCKETS);
  /** The durations of closed connections, summed, in ms; they number `connections - active`. */
  durationMs = 0;

  constructor(key: string, name: string) {
    super();
    this.key = key;
    this.name = name;
  }

  override get refused(): number {
    return sumOf(this.rejected) + sumOf(this.dropped);
  }

  /** The listener's protocol, which its key begins with. */
  get protocol(): "tcp" | "udp" {
    return this.key.startsWith("udp/") ? "udp" : "tcp";
  }
}

/** A backend's counters in one listener's pool; `key` is its address. */
export class BackendCounters extends TrafficCounters {
  readonly listener: ListenerCounters;
  readonly key: string;
  name: string;
  readonly connectErrors: Record<ConnectFailure, number> = zeroes(CONNECT_FAILURES);
  /** Times the passive breaker took this backend out. */
  ejections = 0;
  /** Times active health checks changed this backend's health (either way). */
  healthTransitions = 0;

  constructor(listener: ListenerCounters, key: string, name: string) {
    super();
    this.listener = listener;
    this.key = key;
    this.name = name;
  }

  override get refused(): number {
    return sumOf(this.connectErrors);
  }
}

/** Process-wide totals. */
export class TotalCounters extends TrafficCounters {
  /** Clients refused on any listener, ever. */
  refusedTotal = 0;
  /** 1 while some thread is out of descriptors or ports (an episode), else 0. */
  exhausted = 0;

  override get refused(): number {
    return this.refusedTotal;
  }
}
