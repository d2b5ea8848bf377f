/**
 * The owner of live sessions: it opens and closes them, keeps the active
 * counts, folds their bytes into counters, ends idle ones and aborts on
 * shutdown. Stats observe it (through `Collector.addSource`) and get each
 * closed session for their recent ring; its {@linkcode ClientTop} ranks
 * client IPs.
 *
 * @module
 */
import type { SocketAddress } from "../net/address.ts";
import { ClientTop } from "../stats/client-top.ts";
import type { ListenerCounters, TotalCounters } from "../stats/counters.ts";
import type { RecentSessions } from "../stats/recent.ts";
import type { Backend } from "../upstream/backend.ts";
import { type CloseReason, Session, type SessionTimeouts, UdpSession } from "./session.ts";

/** Spreads session ids over worker threads: worker i of n numbers its sessions i+1, i+1+n, ... */
export interface IdSpace {
  readonly worker: number;
  readonly workers: number;
}

/** Options for {@linkcode Sessions}. */
export interface SessionsOptions {
  /** Where sessions opened and bytes moved are counted per client IP; a new one when absent. */
  top?: ClientTop;
}

/** Live sessions of one thread. */
export class Sessions {
  /** Top clients of this thread: a session counts at open, its bytes whenever they are folded. */
  readonly top: ClientTop;
  private readonly live = new Set<Session>();
  private readonly total: TotalCounters;
  private readonly recent: RecentSessions;
  private nextId: number;
  private readonly idStep: number;
  private emptyWaiters: (() => void)[] = [];
  /** The latest clock reading seen (open, close, sweep): folds from the collector carry none and use it. */
  private now = 0;

  constructor(
    total: TotalCounters,
    recent: RecentSessions,
    ids: IdSpace = { worker: 0, workers: 1 },
    options: SessionsOptions = {},
  ) {
    this.total = total;
    this.recent = recent;
    this.nextId = ids.worker + 1;
    this.idStep = ids.workers;
    this.top = options.top ?? new ClientTop();
  }

  /** Number of live sessions. */
  get size(): number {
    return this.live.size;
  }

  /** Registers a new UDP session (a client address seen for the first time) and counts it. */
  openUdp(
    listener: ListenerCounters,
    client: SocketAddress,
    timeouts: SessionTimeouts,
    now: number,
    wallNow: number,
  ): UdpSession {
    return this.add(new UdpSession(this.nextId, listener, client, timeouts, now, wallNow));
  }

  /** Registers an admitted client and counts it accepted. */
  open(
    listener: ListenerCounters,
    client: SocketAddress,
    timeouts: SessionTimeouts,
    now: number,
    wallNow: number,
  ): Session {
    return this.add(new Session(this.nextId, listener, client, timeouts, now, wallNow));
  }

  private add<S extends Session>(session: S): S {
    this.nextId += this.idStep;
    this.live.add(session);
    session.listener.connections++;
    session.listener.active++;
    this.total.connections++;
    this.total.active++;
    if (session.startedAt > this.now) this.now = session.startedAt;
    this.top.connection(session.client.host, this.now);
    return session;
  }

  /** Points the session at a backend it is dialling; counts it active there at once (least-conn sees it). */
  attach(session: Session, backend: Backend): void {
    this.detach(session);
    session.backend = backend;
    backend.counters.active++;
  }

  /** Undoes {@linkcode attach} after a failed connect. */
  detach(session: Session): void {
    if (session.backend) session.backend.counters.active--;
    session.backend = undefined;
  }

  /** Adds bytes relayed since the last fold to the listener, backend and totals. */
  fold(session: Session): void {
    session.relay?.readTally?.();
    const toUpstream = session.toUpstream - session.foldedToUpstream;
    const toClient = session.toClient - session.foldedToClient;
    if (toUpstream === 0 && toClient === 0) return;
    session.foldedToUpstream = session.toUpstream;
    session.foldedToClient = session.toClient;
    session.listener.toUpstream += toUpstream;
    session.listener.toClient += toClient;
    this.total.toUpstream += toUpstream;
    this.total.toClient += toClient;
    const backend = session.backend?.counters;
    if (backend) {
      backend.toUpstream += toUpstream;
      backend.toClient += toClient;
    }
    this.top.bytes(session.client.host, toUpstream + toClient, this.now);
  }

  /** Folds every live session; a source of the collector. */
  foldAll(): void {
    for (const session of this.live) this.fold(session);
  }

  /** Moves a finished session from the live set to the recent ring. */
  close(session: Session, reason: CloseReason, error: string | undefined, now: number): void {
    if (!this.live.delete(session)) return;
    if (now > this.now) this.now = now;
    this.fold(session);
    session.closeReason = reason;
    session.error = error;
    session.endedAt = now;
    session.relay = undefined;
    session.listener.active--;
    const lasted = now - session.startedAt;
    session.listener.duration.observe(lasted / 1000);
    session.listener.durationMs += lasted;
    this.total.active--;
    if (session.backend) session.backend.counters.active--;
    this.recent.push(session);
    if (this.live.size === 0) this.notifyEmpty();
  }

  /** Ends a session for `reason`: now if it is relaying, right after its dial otherwise. */
  abort(session: Session, reason: CloseReason): void {
    session.abortReason ??= reason;
    if (session.relay) session.relay.abort();
    else session.stop?.(reason);
  }

  /** Aborts the live session with `id` (both sides); false when there is none. */
  abortById(id: number, reason: CloseReason): boolean {
    for (const session of this.live) {
      if (session.id === id) {
        this.abort(session, reason);
        return true;
      }
    }
    return false;
  }

  /** Aborts every live session. */
  abortAll(reason: CloseReason): void {
    for (const session of [...this.live]) this.abort(session, reason);
  }

  /**
   * Ends relaying sessions that moved no bytes for their idle timeout, or
   * for their half-close timeout once either side sent its FIN, with FINs
   * rather than resets. Compares byte counts between sweeps, so the relay
   * never reads a clock.
   */
  sweepIdle(now: number): void {
    if (now > this.now) this.now = now;
    for (const session of this.live) {
      const relay = session.relay;
      if (relay === undefined) continue;
      const halfClosed = session.halfCloseTimeoutMs > 0 && relay.halfClosed;
      const limit = halfClosed ? session.halfCloseTimeoutMs : session.idleTimeoutMs;
      if (limit === 0) continue;
      relay.readTally?.();
      const seen = session.toUpstream + session.toClient;
      if (seen !== session.activitySeen) {
        session.activitySeen = seen;
        session.idleSince = now;
      } else if (now - session.idleSince >= limit) {
        session.abortReason ??= halfClosed ? "half_close_timeout" : "idle_timeout";
        relay.close();
      }
    }
  }

  /** Live sessions, oldest first, with current byte counts. */
  list(): Session[] {
    for (const session of this.live) session.relay?.readTally?.();
    return [...this.live];
  }

  /** Resolves once no session is live. */
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
