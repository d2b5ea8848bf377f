/**
 * A listener's backends: their balancing view, their passive breaker, and the
 * balancer built from them.
 *
 * @module
 */
import type { Balancer, BalancerOptions, Member } from "../balance/types.ts";
import { BALANCERS } from "../balance/registry.ts";
import type { BackendConfig, ListenerConfig } from "../config/schema.ts";
import { formatAddress, type SocketAddress } from "../net/address.ts";
import type { ConnectTcpOptions } from "../runtime/types.ts";
import type { BackendStats } from "../stats/entities.ts";
import { Breaker } from "./breaker.ts";

/** One backend as the pool sees it. Balancing inputs read its live stats. */
export class Backend implements Member {
  readonly key: string;
  readonly name: string;
  readonly weight: number;
  readonly address: SocketAddress;
  /** What each dial passes to connectTcp, built once rather than per connection. */
  readonly dialOptions: ConnectTcpOptions;
  readonly breaker: Breaker;

  constructor(config: BackendConfig, listener: ListenerConfig, readonly stats: BackendStats) {
    this.key = formatAddress(config.address);
    this.name = config.name;
    this.weight = config.weight;
    this.address = config.address;
    this.dialOptions = { ...config.address, timeoutMs: listener.connectTimeoutMs };
    this.breaker = new Breaker(listener.maxFails, listener.failTimeoutMs);
  }

  get active(): number {
    return this.stats.active;
  }

  get eligible(): boolean {
    return this.stats.state === "up";
  }
}

/** Picks backends for a listener and keeps their passive health. */
export class Pool {
  readonly backends: readonly Backend[];
  private readonly balancer: Balancer;
  private ejected = 0;

  constructor(listener: ListenerConfig, statsFor: (backend: string) => BackendStats, options: BalancerOptions) {
    this.backends = listener.backends.map((b) => new Backend(b, listener, statsFor(b.name)));
    this.balancer = BALANCERS[listener.balance](this.backends, options);
  }

  /**
   * Picks a backend for a client hashing to `key`, skipping `tried`. When every
   * untried backend is ejected, ejected ones are tried too (panic mode, as
   * Envoy does) rather than refusing the client outright.
   */
  pick(key: number, tried: readonly Backend[] | undefined, now: number): Backend | undefined {
    if (this.ejected > 0) this.refresh(now);
    return (this.balancer.pick(key, tried) ?? this.balancer.pick(key, tried, true)) as Backend | undefined;
  }

  /** Records a failed connect; returns true when it ejected the backend. */
  reportFailure(backend: Backend, now: number): boolean {
    if (!backend.breaker.recordFailure(now)) return false;
    if (backend.stats.state === "up") this.ejected++;
    backend.stats.state = "ejected";
    backend.stats.ejections++;
    return true;
  }

  /** Records a successful connect; an ejected backend that answers is back at once. */
  reportSuccess(backend: Backend): void {
    backend.breaker.recordSuccess();
    if (backend.stats.state === "ejected") {
      backend.stats.state = "up";
      this.ejected--;
    }
  }

  /** Returns backends whose ejection has expired; also called by the periodic sweep so state shown is current. */
  refresh(now: number): void {
    if (this.ejected === 0) return;
    for (const backend of this.backends) {
      if (backend.stats.state === "ejected" && !backend.breaker.isOpen(now)) {
        backend.stats.state = "up";
        this.ejected--;
      }
    }
  }
}
