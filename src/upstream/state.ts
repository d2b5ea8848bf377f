/**
 * Whether a backend may take new connections, derived from separate inputs:
 * active health (checks), passive ejection (the breaker), and what an operator
 * asked for (`disabled`, `draining`). Stats never decide this; this file does.
 *
 * @module
 */
import { Breaker } from "./breaker.ts";

/** What active health checks last concluded. Backends without checks stay `up`. */
export type Health = "up" | "down";
/** What an operator asked for. */
export type AdminState = "enabled" | "disabled" | "draining";
/** The state shown: the first that holds of disabled, draining/drained, down, ejected, up. */
export type ShownState = (typeof SHOWN_STATES)[number];
/** Every state a backend is shown in, as `/metrics` lists them. */
export const SHOWN_STATES = ["up", "down", "ejected", "draining", "drained", "disabled"] as const;

/** A health check's outcome as kept for display. */
export interface LastCheck {
  readonly ok: boolean;
  /** `ok`, a connect failure (`timeout`, `refused`), `status 503`, `unexpected reply`. */
  readonly reason: string;
  readonly latencyMs: number;
  /** Wall-clock ms. */
  readonly at: number;
}

/** One backend's inputs and what follows from them. */
export class BackendState {
  #health: Health = "up";
  #admin: AdminState = "enabled";
  /** The operator input as of {@linkcode changedAt}: drain and disable both make a backend unusable. */
  #shownAdmin: AdminState = "enabled";
  /**
   * May take new connections. Derived whenever an input changes, so a pick
   * reads one field per member.
   */
  usable = true;
  /**
   * May take new connections when nothing usable is left (panic mode, as
   * Envoy does): ejection is ignored, health and admin are not.
   */
  fallback = true;
  /** Passive input: failed connects trip it. */
  readonly breaker: Breaker;
  /**
   * True while the backend is ejected. Kept as a flag so the pick reads no
   * clock; {@linkcode expire} clears it once {@linkcode ejectedUntil} passed.
   */
  #ejected = false;
  /** The last health check's result, when the listener runs checks. */
  lastCheck: LastCheck | undefined;
  /** When the ejection ends (monotonic ms). Worker threads' ejections are mirrored with Infinity. */
  ejectedUntil = -Infinity;
  /** When an input last changed what the backend may do (monotonic ms), for "time in state". */
  changedAt: number;
  private readonly now: () => number;

  /** `now` is the monotonic clock that dates state changes. */
  constructor(maxFails: number, failTimeoutMs: number, now: () => number = () => 0) {
    this.breaker = new Breaker(maxFails, failTimeoutMs);
    this.now = now;
    this.changedAt = now();
  }

  /** Active health input. */
  get health(): Health {
    return this.#health;
  }
  set health(value: Health) {
    this.#health = value;
    this.derive();
  }

  /** Operator input. */
  get admin(): AdminState {
    return this.#admin;
  }
  set admin(value: AdminState) {
    this.#admin = value;
    this.derive();
  }

  /** Passive input. */
  get ejected(): boolean {
    return this.#ejected;
  }
  set ejected(value: boolean) {
    this.#ejected = value;
    this.derive();
  }

  private derive(): void {
    const usable = this.usable;
    const fallback = this.fallback;
    this.fallback = this.#admin === "enabled" && this.#health === "up";
    this.usable = this.fallback && !this.#ejected;
    if (this.usable !== usable || this.fallback !== fallback || this.#admin !== this.#shownAdmin) {
      this.#shownAdmin = this.#admin;
      this.changedAt = this.now();
    }
  }

  /** Records a failed connect; true when it ejected the backend. */
  recordFailure(now: number): boolean {
    if (!this.breaker.recordFailure(now)) return false;
    this.ejected = true;
    this.ejectedUntil = this.breaker.openEnds;
    return true;
  }

  /** Records a successful connect: an ejected backend that answers is back at once. */
  recordSuccess(): void {
    this.breaker.recordSuccess();
    this.ejected = false;
    this.ejectedUntil = -Infinity;
  }

  /** Mirrors whether another thread has the backend ejected (main thread, `workers > 1`). */
  mirrorEjected(ejected: boolean): void {
    this.ejected = ejected;
    this.ejectedUntil = ejected ? Infinity : -Infinity;
  }

  /** Ends an ejection whose time is over; true when it did. */
  expire(now: number): boolean {
    if (!this.ejected || now < this.ejectedUntil) return false;
    this.ejected = false;
    return true;
  }

  /** The state to show, given the backend's active connections and the time. */
  shown(active: number, now: number): ShownState {
    if (this.admin === "disabled") return "disabled";
    if (this.admin === "draining") return active > 0 ? "draining" : "drained";
    if (this.health === "down") return "down";
    if (this.ejected && now < this.ejectedUntil) return "ejected";
    return "up";
  }

  /**
   * Since when (monotonic ms) the shown state holds: the last input change,
   * or the end of an ejection that ran out. A drained backend counts from
   * the drain.
   */
  since(now: number): number {
    if (this.ejected && now >= this.ejectedUntil && this.admin === "enabled" && this.health === "up") {
      return Math.max(this.changedAt, this.ejectedUntil);
    }
    return this.changedAt;
  }
}

/**
 * Every backend's state, by listener key and backend address, so that admin
 * and health inputs outlive a pool rebuilt by a reload.
 */
export class StateBook {
  private readonly states = new Map<string, BackendState>();
  private readonly now: () => number;

  /** `now` is the monotonic clock that dates state changes (see {@linkcode BackendState.since}). */
  constructor(now: () => number = () => 0) {
    this.now = now;
  }

  /** The state of `backend` in `listener`'s pool, created on first use with the listener's breaker settings. */
  get(listener: string, backend: string, breaker: { maxFails: number; failTimeoutMs: number }): BackendState {
    const id = `${listener}\u0000${backend}`;
    let state = this.states.get(id);
    if (!state) this.states.set(id, state = new BackendState(breaker.maxFails, breaker.failTimeoutMs, this.now));
    state.breaker.maxFails = breaker.maxFails;
    state.breaker.failTimeoutMs = breaker.failTimeoutMs;
    return state;
  }

  /** The state if known. */
  find(listener: string, backend: string): BackendState | undefined {
    return this.states.get(`${listener}\u0000${backend}`);
  }

  /** Forgets a backend that left the configuration. */
  forget(listener: string, backend: string): void {
    this.states.delete(`${listener}\u0000${backend}`);
  }
}
