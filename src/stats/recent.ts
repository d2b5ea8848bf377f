/**
 * What stats see of a session (a TCP connection now, a UDP flow next), and
 * the bounded ring of recently closed ones. Live sessions are owned by
 * `src/proxy/sessions.ts`; stats only observe them.
 *
 * @module
 */
import type { SocketAddress } from "../net/address.ts";
import type { ListenerCounters } from "./counters.ts";

/** Why a session ended, as logged and shown. */
export type CloseReason =
  | "client_closed"
  | "upstream_closed"
  | "client_error"
  | "upstream_error"
  | "idle_timeout"
  | "half_close_timeout"
  | "responses"
  | "requests"
  | "backend_down"
  | "shutdown"
  | "admin"
  | "no_backend"
  | "local";

/** Where a session is in its life. */
export type SessionPhase = "connecting" | "relaying" | "closed";

/** A session as stats read it. */
export interface SessionRecord {
  readonly id: number;
  readonly protocol: "tcp" | "udp";
  readonly listener: ListenerCounters;
  readonly client: SocketAddress;
  /** The backend's label, once one was picked. */
  readonly backendName: string | undefined;
  /** Monotonic start, for durations. */
  readonly startedAt: number;
  /** Wall-clock start, for display. */
  readonly startedWall: number;
  /** Monotonic end; 0 while live. */
  readonly endedAt: number;
  readonly toUpstream: number;
  readonly toClient: number;
  readonly phase: SessionPhase;
  readonly closeReason: CloseReason | undefined;
}

/** How long a closed session stays listed. */
const RECENT_MS = 5 * 60_000;

/** A bounded ring of closed sessions (1,000 by default), newest overwriting oldest. */
export class RecentSessions {
  readonly capacity: number;
  private readonly ring: (SessionRecord | undefined)[];
  private next = 0;

  constructor(capacity = 1000) {
    this.capacity = capacity;
    this.ring = new Array(capacity);
  }

  /** Keeps a closed session. */
  push(session: SessionRecord): void {
    this.ring[this.next] = session;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Closed sessions, newest first; with `now` (monotonic ms), only those closed in the last 5 minutes. */
  list(now?: number): SessionRecord[] {
    const out: SessionRecord[] = [];
    for (let i = 1; i <= this.capacity; i++) {
      const session = this.ring[(this.next - i + this.capacity) % this.capacity];
      if (!session || (now !== undefined && now - session.endedAt > RECENT_MS)) break;
      out.push(session);
    }
    return out;
  }
}
