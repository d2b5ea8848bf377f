/**
 * Browser login sessions, kept in memory: random ids, a fixed lifetime
 * checked on the server (a cookie's own expiry is the browser's to honour),
 * and a bound on how many exist at once.
 *
 * @module
 */
import { toBase64Url } from "../config/password-hash.ts";

/** One logged-in browser. */
export interface Session {
  /** 256 random bits, base64url: the cookie's value. */
  readonly id: string;
  readonly username: string;
  /** Monotonic ms after which the session is gone. */
  readonly expires: number;
}

/** Sessions last a day from login. */
export const SESSION_TTL_MS = 24 * 60 * 60 * 1000;

/** A fresh random id: 32 bytes, base64url without padding. */
export function randomId(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * The session table.
 *
 * @example
 * ```ts
 * const sessions = new SessionStore();
 * const s = sessions.create("ops", clock.now());
 * sessions.get(s.id, clock.now())?.username; // "ops"
 * ```
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  readonly ttlMs: number;
  private readonly max: number;

  constructor(options: { ttlMs?: number; max?: number } = {}) {
    this.ttlMs = options.ttlMs ?? SESSION_TTL_MS;
    this.max = options.max ?? 1000;
  }

  /** Live sessions (expired ones may still count until looked up or swept). */
  get size(): number {
    return this.sessions.size;
  }

  /** A new session; when the table is full, expired sessions go first, then the oldest. */
  create(username: string, now: number): Session {
    if (this.sessions.size >= this.max) {
      for (const [id, s] of this.sessions) if (s.expires <= now) this.sessions.delete(id);
      // Insertion order is creation order: the first is the oldest.
      if (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value!);
    }
    const session = { id: randomId(), username, expires: now + this.ttlMs };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id; an expired one is removed and not returned. */
  get(id: string, now: number): Session | undefined {
    const session = this.sessions.get(id);
    if (session && session.expires <= now) {
      this.sessions.delete(id);
      return undefined;
    }
    return session;
  }

  /** Ends a session (logout). */
  delete(id: string): void {
    this.sessions.delete(id);
  }
}
