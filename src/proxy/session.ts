/**
 * One session's context: a TCP connection from accept to close, passed from
 * stage to stage (admit, route, pick, dial, relay, account). The relay adds
 * bytes to it directly; stats read it as a {@linkcode SessionRecord}.
 *
 * @module
 */
import type { SocketAddress } from "../net/address.ts";
import type { Relay, RelayTally, UdpUpstream } from "../runtime/types.ts";
import type { ListenerCounters } from "../stats/counters.ts";
import type { CloseReason, SessionPhase, SessionRecord } from "../stats/recent.ts";
import type { Backend } from "../upstream/backend.ts";

export type { CloseReason };

/** The inactivity limits of a session (a listener's config has them). */
export interface SessionTimeouts {
  /** No bytes either way for this long ends the session; 0 never. */
  readonly idleTimeoutMs: number;
  /** Replaces the idle timeout once either side sent its FIN; 0 leaves the idle timeout in charge. */
  readonly halfCloseTimeoutMs: number;
}

/** A live or recently closed session. */
export class Session implements RelayTally, SessionRecord {
  readonly id: number;
  readonly listener: ListenerCounters;
  readonly client: SocketAddress;
  readonly idleTimeoutMs: number;
  readonly halfCloseTimeoutMs: number;
  readonly startedAt: number;
  readonly startedWall: number;
  /** The client's hash key, for balancers that need one; 0 otherwise. */
  key = 0;
  backend: Backend | undefined;
  relay: Relay | undefined;
  toUpstream = 0;
  toClient = 0;
  /** Bytes already added to listener/backend totals. */
  foldedToUpstream = 0;
  foldedToClient = 0;
  /** A dial failed for want of our own resources (out of descriptors), not the backend's fault. */
  localFailure = false;
  /** Set when we decide to end the session (idle, shutdown) before or during the relay. */
  abortReason: CloseReason | undefined;
  /** Ends a session that has no relay (UDP): set by the listener that owns it. */
  stop: ((reason: CloseReason) => void) | undefined;
  closeReason: CloseReason | undefined;
  error: string | undefined;
  endedAt = 0;
  /** For the idle sweep: bytes seen at the last sweep, and since when they have not changed. */
  activitySeen = 0;
  idleSince: number;

  constructor(
    id: number,
    listener: ListenerCounters,
    client: SocketAddress,
    timeouts: SessionTimeouts,
    startedAt: number,
    startedWall: number,
  ) {
    this.id = id;
    this.listener = listener;
    this.client = client;
    this.idleTimeoutMs = timeouts.idleTimeoutMs;
    this.halfCloseTimeoutMs = timeouts.halfCloseTimeoutMs;
    this.startedAt = startedAt;
    this.startedWall = startedWall;
    this.idleSince = startedAt;
  }

  get protocol(): "tcp" | "udp" {
    return "tcp";
  }

  get backendName(): string | undefined {
    return this.backend?.name;
  }

  get phase(): SessionPhase {
    return this.closeReason ? "closed" : this.relay ? "relaying" : "connecting";
  }
}

/**
 * A UDP session: the datagrams of one client address and port, and the
 * upstream socket they go out on. Replies come back through that socket and
 * leave from the listener's address.
 */
export class UdpSession extends Session {
  /** The listener's session-table key (`host|port`). */
  flowKey = "";
  upstream: UdpUpstream | undefined;
  /** Datagrams that arrived while the upstream socket was opening. */
  queue: Uint8Array[] | undefined;
  queuedBytes = 0;
  /** Client datagrams and replies so far, for `requests` and `responses`. */
  requests = 0;
  responses = 0;

  override get protocol(): "udp" {
    return "udp";
  }

  override get phase(): SessionPhase {
    return this.closeReason ? "closed" : this.upstream ? "relaying" : "connecting";
  }
}
