/**
 * The live connection table and the ring of recently closed connections.
 * All per-connection accounting (active counts, byte folding) happens here,
 * so no counter is kept in two places.
 *
 * @module
 */
import type { SocketAddress } from "../net/address.ts";
import type { Relay, RelayTally } from "../runtime/types.ts";
import type { BackendStats, ListenerStats, TotalStats } from "./entities.ts";

/** Why a connection ended, as logged and shown. */
export type CloseReason =
  | "client_closed"
  | "upstream_closed"
  | "client_error"
  | "upstream_error"
  | "idle_timeout"
  | "shutdown"
  | "no_backend";

/** One client connection, live or recently closed. The relay adds to `up`/`down` directly. */
export class Connection implements RelayTally {
  up = 0;
  down = 0;
  /** Bytes already added to listener/backend totals. */
  foldedUp = 0;
  foldedDown = 0;
  backend: BackendStats | undefined;
  relay: Relay | undefined;
  /** Set when we decide to end the connection (idle, shutdown) before or during the relay. */
  abortReason: CloseReason | undefined;
  closeReason: CloseReason | undefined;
  error: string | undefined;
  endedAt = 0;
  /** For the idle sweep: bytes seen at the last sweep, and since when they have not changed. */
  activitySeen = 0;
  idleSince: number;

  constructor(
    readonly id: number,
    readonly listener: ListenerStats,
    readonly client: SocketAddress,
    readonly idleTimeoutMs: number,
    /** Monotonic start, for durations. */
    readonly startedAt: number,
    /** Wall-clock start, for display. */
    readonly startedWall: number,
  ) {
    this.idleSince = startedAt;
  }
}

/** Live connections plus a bounded ring of closed ones. */
export class ConnectionTable {
  private readonly live = new Set<Connection>();
  private readonly recent: (Connection | undefined)[];
  private recentNext = 0;
  private nextId: number;
  private readonly idStep: number;
  private emptyWaiters: (() => void)[] = [];

  /**
   * `ids` spreads connection ids over worker threads: worker i of n numbers its
   * connections i+1, i+1+n, ... so ids stay unique across threads.
   */
  constructor(private readonly total: TotalStats, readonly recentCapacity = 256, ids = { worker: 0, workers: 1 }) {
    this.recent = new Array(recentCapacity);
    this.nextId = ids.worker + 1;
    this.idStep = ids.workers;
  }

  /** Number of live connections. */
  get size(): number {
    return this.live.size;
  }

  /** Registers an accepted client. */
  open(listener: ListenerStats, client: SocketAddress, idleTimeoutMs: number, now: number, wallNow: number): Connection {
    const conn = new Connection(this.nextId, listener, client, idleTimeoutMs, now, wallNow);
    this.nextId += this.idStep;
    this.live.add(conn);
    listener.connections++;
    listener.active++;
    this.total.connections++;
    this.total.active++;
    return conn;
  }

  /** Points the connection at a backend it is dialling; counts it active there at once (least-conn sees it). */
  attach(conn: Connection, backend: BackendStats): void {
    this.detach(conn);
    conn.backend = backend;
    backend.active++;
  }

  /** Undoes {@linkcode attach} after a failed connect. */
  detach(conn: Connection): void {
    if (conn.backend) conn.backend.active--;
    conn.backend = undefined;
  }

  /** Adds bytes relayed since the last fold to the listener, backend and totals. */
  fold(conn: Connection): void {
    conn.relay?.refresh?.();
    const up = conn.up - conn.foldedUp;
    const down = conn.down - conn.foldedDown;
    if (up === 0 && down === 0) return;
    conn.foldedUp = conn.up;
    conn.foldedDown = conn.down;
    conn.listener.bytesIn += up;
    conn.listener.bytesOut += down;
    this.total.bytesIn += up;
    this.total.bytesOut += down;
    if (conn.backend) {
      conn.backend.bytesIn += up;
      conn.backend.bytesOut += down;
    }
  }

  /** Folds every live connection; the collector calls this once per tick. */
  foldAll(): void {
    for (const conn of this.live) this.fold(conn);
  }

  /** Moves a finished connection from the live table to the recent ring. */
  close(conn: Connection, reason: CloseReason, error: string | undefined, now: number): void {
    if (!this.live.delete(conn)) return;
    this.fold(conn);
    conn.closeReason = reason;
    conn.error = error;
    conn.endedAt = now;
    conn.relay = undefined;
    conn.listener.active--;
    this.total.active--;
    if (conn.backend) conn.backend.active--;
    this.recent[this.recentNext] = conn;
    this.recentNext = (this.recentNext + 1) % this.recentCapacity;
    if (this.live.size === 0) this.notifyEmpty();
  }

  /** Ends a connection for `reason`: now if it is relaying, right after its dial otherwise. */
  abort(conn: Connection, reason: CloseReason): void {
    conn.abortReason ??= reason;
    conn.relay?.abort();
  }

  /** Aborts every live connection, optionally only one listener's. */
  abortAll(reason: CloseReason, listener?: string): void {
    for (const conn of [...this.live]) if (listener === undefined || conn.listener.name === listener) this.abort(conn, reason);
  }

  /**
   * Aborts relaying connections that moved no bytes for their idle timeout.
   * Compares byte counts between sweeps, so the relay never reads a clock.
   */
  sweepIdle(now: number): void {
    for (const conn of this.live) {
      if (conn.idleTimeoutMs === 0 || conn.relay === undefined) continue;
      conn.relay.refresh?.();
      const seen = conn.up + conn.down;
      if (seen !== conn.activitySeen) {
        conn.activitySeen = seen;
        conn.idleSince = now;
      } else if (now - conn.idleSince >= conn.idleTimeoutMs) {
        this.abort(conn, "idle_timeout");
      }
    }
  }

  /** Live connections, oldest first. */
  liveConnections(): Connection[] {
    for (const conn of this.live) conn.relay?.refresh?.();
    return [...this.live];
  }

  /** Closed connections, newest first. */
  recentlyClosed(): Connection[] {
    const out: Connection[] = [];
    for (let i = 1; i <= this.recentCapacity; i++) {
      const conn = this.recent[(this.recentNext - i + this.recentCapacity) % this.recentCapacity];
      if (conn) out.push(conn);
    }
    return out;
  }

  /** Resolves once no connection is live. */
  whenEmpty(): Promise<void> {
    if (this.live.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  private notifyEmpty(): void {
    const waiters = this.emptyWaiters;
    this.emptyWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
