/**
 * One backend as a pool holds it: identity (its address), label, weight, and
 * references to its state and counters, which it reads but does not own.
 *
 * @module
 */
import type { Member } from "../balance/types.ts";
import type { BackendConfig, ListenerConfig } from "../config/schema.ts";
import { formatAddress, type SocketAddress } from "../net/address.ts";
import type { ConnectTcpOptions } from "../runtime/types.ts";
import type { BackendCounters } from "../stats/counters.ts";
import { Ewma } from "./ewma.ts";
import type { BackendState } from "./state.ts";

/** How fast the latency average follows a change: a sample 5 s old weighs 1/e of a new one. */
const LATENCY_TAU_MS = 5000;

/** A pool member. Balancers see it through {@linkcode Member}. */
export class Backend implements Member {
  /** Identity: the address as `host:port`. */
  readonly key: string;
  readonly address: SocketAddress;
  name: string;
  weight: number;
  /** What each dial passes to connectTcp, built once rather than per connection. */
  dialOptions: ConnectTcpOptions;
  readonly state: BackendState;
  readonly counters: BackendCounters;
  /** Connect and health check times, for the `ewma` strategy; kept across reloads with the backend. */
  readonly latency: Ewma = new Ewma(LATENCY_TAU_MS);

  constructor(config: BackendConfig, listener: ListenerConfig, state: BackendState, counters: BackendCounters) {
    this.key = formatAddress(config.address);
    this.address = config.address;
    this.name = config.name;
    this.weight = config.weight;
    this.dialOptions = { ...config.address, timeoutMs: listener.connectTimeoutMs };
    this.state = state;
    this.counters = counters;
  }

  /** Takes a reload's settings for the same address. */
  update(config: BackendConfig, listener: ListenerConfig): void {
    this.name = config.name;
    this.counters.name = config.name;
    this.weight = config.weight;
    if (this.dialOptions.timeoutMs !== listener.connectTimeoutMs) {
      this.dialOptions = { ...config.address, timeoutMs: listener.connectTimeoutMs };
    }
  }

  get active(): number {
    return this.counters.active;
  }

  get eligible(): boolean {
    return this.state.usable;
  }

  get fallback(): boolean {
    return this.state.fallback;
  }

  get latencyMs(): number {
    return this.latency.value;
  }
}
