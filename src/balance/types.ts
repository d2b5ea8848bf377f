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
  /** False while the backend must not get new connections (failed, draining). */
  readonly eligible: boolean;
}

/** A balancer's answer to one connection. */
export interface Balancer {
  /**
   * Picks a member for a connection whose client hashes to `key`, skipping
   * those in `tried`. With `panic`, members that are not `eligible` are
   * considered too. Returns undefined when no member qualifies.
   */
  pick(key: number, tried?: readonly Member[], panic?: boolean): Member | undefined;
}

/** Injected randomness, so tests can make random strategies deterministic. */
export interface BalancerOptions {
  /** Returns a float in [0, 1). */
  random: () => number;
}

/** Builds a balancer from a snapshot of the pool's members; rebuilt only when membership changes. */
export type BalancerFactory = (members: readonly Member[], options: BalancerOptions) => Balancer;

/** True when `member` may take the connection. */
export function usable(member: Member, tried: readonly Member[] | undefined, panic: boolean | undefined): boolean {
  return (member.eligible || panic === true) && (tried === undefined || !tried.includes(member));
}

/** True when `a` is less loaded than `b`, comparing active/weight without dividing. */
export function lessLoaded(a: Member, b: Member): boolean {
  return a.active * b.weight < b.active * a.weight;
}
