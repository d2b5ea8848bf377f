/**
 * Live counters for a listener, a backend and the whole proxy. The data path
 * increments these plain fields; the collector turns them into time series.
 *
 * @module
 */
import type { ConnectFailure } from "../runtime/types.ts";
import { Series } from "./series.ts";

/** Why a client was turned away before any bytes were relayed. */
export type RejectReason = "no_backend";
/** All reject reasons, so counters start at zero and metrics show every label. */
export const REJECT_REASONS: readonly RejectReason[] = ["no_backend"];
/** All connect failure reasons. */
export const CONNECT_FAILURES: readonly ConnectFailure[] = ["refused", "timeout", "unreachable", "reset", "dns", "error"];

const zeroes = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

/** Counters shared by every traffic-carrying entity, plus their history. */
export abstract class TrafficStats {
  /** Connections accepted (listener) or established (backend), ever. */
  connections = 0;
  /** Connections open now. */
  active = 0;
  /** Bytes from clients toward backends, ever, as of the last fold. */
  bytesIn = 0;
  /** Bytes from backends toward clients, ever, as of the last fold. */
  bytesOut = 0;

  readonly history = {
    connections: new Series("rate"),
    active: new Series("gauge"),
    bytesIn: new Series("rate"),
    bytesOut: new Series("rate"),
  };
  private seen = { connections: 0, bytesIn: 0, bytesOut: 0 };

  /** Pushes one second's deltas into the history. */
  sample(): void {
    const h = this.history;
    h.connections.add(this.connections - this.seen.connections);
    h.bytesIn.add(this.bytesIn - this.seen.bytesIn);
    h.bytesOut.add(this.bytesOut - this.seen.bytesOut);
    h.active.add(this.active);
    this.seen.connections = this.connections;
    this.seen.bytesIn = this.bytesIn;
    this.seen.bytesOut = this.bytesOut;
  }
}

/** A listener's counters. */
export class ListenerStats extends TrafficStats {
  readonly rejected = zeroes(REJECT_REASONS);
  constructor(readonly name: string) {
    super();
  }
}

/** A backend's counters, per listener pool. */
export class BackendStats extends TrafficStats {
  readonly connectErrors = zeroes(CONNECT_FAILURES);
  /** Times the passive breaker took this backend out. */
  ejections = 0;
  /** `up` takes new connections; `ejected` is out after failed connects. */
  state: "up" | "ejected" = "up";
  constructor(readonly listener: string, readonly name: string) {
    super();
  }
}

/** Process-wide totals. */
export class TotalStats extends TrafficStats {}
