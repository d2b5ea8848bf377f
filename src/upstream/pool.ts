/**
 * A listener's backends, kept by address, and the balancer built from them.
 * A reload hands the pool a new member list: kept backends keep their state,
 * counters and connections; the balancer is rebuilt only when membership or
 * weights changed.
 *
 * @module
 */
import { BALANCERS } from "../balance/registry.ts";
import type { Balancer, BalancerOptions } from "../balance/types.ts";
import { type BackendConfig, backendKey, type BalancerName, type ListenerConfig } from "../config/schema.ts";
import type { BackendCounters } from "../stats/counters.ts";
import { Backend } from "./backend.ts";
import type { BackendState, StateBook } from "./state.ts";

/** Where a pool gets the state and counters of a backend (both outlive the pool). */
export interface PoolDeps {
  readonly states: StateBook;
  /** The counters of a backend of this listener: its address and label. */
  countersFor(key: string, name: string): BackendCounters;
  readonly balancer: BalancerOptions;
}

/** What {@linkcode Pool.update} changed. */
export interface PoolUpdate {
  /** Backends no longer in the pool; their live connections carry on. */
  readonly removed: readonly Backend[];
  /** Whether the balancer was rebuilt. */
  readonly rebuilt: boolean;
}

/** Picks backends for a listener and reports connect results to their state. */
export class Pool {
  private members: Backend[] = [];
  private balancer!: Balancer;
  private strategy!: BalancerName;
  private listenerKey: string;
  private readonly deps: PoolDeps;
  /** Backends with an ejection that may have run out; the pick checks them only while there are any. */
  private ejected = 0;
  /** Weights the balancer was built with; a change means a rebuild. */
  private builtWeights = new Map<string, number>();
  /** Whether the strategy uses the client's hash key. */
  needsKey = false;

  constructor(listener: ListenerConfig, deps: PoolDeps) {
    this.deps = deps;
    this.listenerKey = listener.key;
    this.update(listener);
  }

  /** Members in configuration order. */
  get backends(): readonly Backend[] {
    return this.members;
  }

  /** Takes a new member list and settings; see the module comment. */
  update(listener: ListenerConfig): PoolUpdate {
    const keys = new Set(listener.backends.map(backendKey));
    if (keys.size !== listener.backends.length) throw new Error(`${listener.key}: a backend address is listed twice`);
    const old = new Map(this.members.map((b) => [b.key, b]));
    const next: Backend[] = listener.backends.map((config) =>
      this.member(config, listener, old.get(backendKey(config)))
    );
    const keep = new Set(next.map((b) => b.key));
    const removed = this.members.filter((b) => !keep.has(b.key));
    for (const backend of removed) this.deps.states.forget(this.listenerKey, backend.key);
    const rebuilt = this.strategy !== listener.balance || removed.length > 0 ||
      next.length !== this.members.length ||
      next.some((b, i) => b !== this.members[i] || b.weight !== this.builtWeights.get(b.key));
    this.members = next;
    this.strategy = listener.balance;
    this.needsKey = BALANCERS[listener.balance].needsKey === true;
    if (rebuilt) {
      this.builtWeights = new Map(next.map((b) => [b.key, b.weight]));
      this.balancer = BALANCERS[listener.balance](next, this.deps.balancer);
    }
    this.ejected = next.filter((b) => b.state.ejected).length;
    return { removed, rebuilt };
  }

  private member(config: BackendConfig, listener: ListenerConfig, existing: Backend | undefined): Backend {
    if (existing) {
      existing.update(config, listener);
      this.deps.states.get(this.listenerKey, existing.key, listener);
      return existing;
    }
    const key = backendKey(config);
    const state: BackendState = this.deps.states.get(this.listenerKey, key, listener);
    return new Backend(config, listener, state, this.deps.countersFor(key, config.name));
  }

  /**
   * Picks a backend for a client hashing to `key`, skipping `tried`. When
   * every untried backend is out, ejected ones are tried too (panic mode) —
   * but never one that is down, draining or disabled.
   */
  pick(key: number, tried: readonly Backend[] | undefined, now: number): Backend | undefined {
    if (this.ejected > 0) this.expireEjections(now);
    return (this.balancer.pick(key, tried) ?? this.balancer.pick(key, tried, true)) as Backend | undefined;
  }

  /** Whether any member may take new connections now. */
  hasUsable(): boolean {
    for (const backend of this.members) if (backend.state.usable) return true;
    return false;
  }

  /** Records a failed connect; returns true when it ejected the backend. */
  reportFailure(backend: Backend, now: number): boolean {
    if (!backend.state.recordFailure(now)) return false;
    this.ejected++;
    backend.counters.ejections++;
    return true;
  }

  /** Records a successful connect; an ejected backend that answers is back at once. */
  reportSuccess(backend: Backend): void {
    backend.state.recordSuccess();
  }

  /**
   * Ends ejections whose time is over and recounts those still out. The pick
   * calls it while any backend is out, and the listeners' sweep too, so the
   * state shown (and published by a worker thread) is current without traffic.
   */
  expireEjections(now: number): void {
    if (this.ejected === 0) return;
    let out = 0;
    for (const backend of this.members) {
      backend.state.expire(now);
      if (backend.state.ejected) out++;
    }
    this.ejected = out;
  }
}
