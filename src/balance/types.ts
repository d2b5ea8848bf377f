/**
 * The contract between a pool and its balancing strategy.
 *
 * @module
 */

/** What a balancer sees of a backend. The pool owns these objects and updates them in place. */
export interface Member {
  /** Stable identity (the backend's address); the hash ring is built from it. */
  readonly key: string;
  /** Relative share of traffic, 1 or more. */
  readonly weight: number;
  /** Connections open or being dialled to this backend. */
  readonly active: number;
  /** False while the backend must not get new connections (ejected, down, draining, disabled). */
  readonly eligible: boolean;
  /** May still be picked in panic mode, when no member is eligible (ejected, but not down or disabled). */
  readonly fallback: boolean;
  /** Moving average of connect and check time in ms, failures counted as slow; 0 before any sample. */
  readonly latencyMs: number;
}

/** A balancer's answer to one connection. */
export interface Balancer {
  /**
   * Picks a member for a connection whose client hashes to `key`, skipping
   * those in `tried`. With `panic`, `fallback` members are considered instead
   * of `eligible` ones. Returns undefined when no member qualifies.
   */
  pick(key: number, tried?: readonly Member[], panic?: boolean): Member | undefined;
}

/** Injected randomness, so tests can make random strategies deterministic. */
export interface BalancerOptions {
  /** Returns a float in [0, 1). */
  random: () => number;
}

/**
 * Builds a balancer from a snapshot of the pool's members; rebuilt only when
 * membership or weights change. `needsKey` says whether picks use the client's
 * hash key, so the data path computes it only for strategies that do.
 */
export type BalancerFactory = ((members: readonly Member[], options: BalancerOptions) => Balancer) & {
  readonly needsKey?: boolean;
};

/** True when `member` may take the connection. */
export function usable(member: Member, tried: readonly Member[] | undefined, panic: boolean | undefined): boolean {
  return (panic === true ? member.fallback : member.eligible) && (tried === undefined || !tried.includes(member));
}

/** True when `a` is less loaded than `b`, comparing active/weight without dividing. */
export function lessLoaded(a: Member, b: Member): boolean {
  return a.active * b.weight < b.active * a.weight;
}
