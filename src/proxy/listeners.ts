/**
 * The listeners of one thread, keyed by protocol and configured address:
 * built from a configuration, changed in place by a {@linkcode Plan}, swept
 * for idle sessions, and drained on shutdown.
 *
 * @module
 */
import type { AdmitRule } from "../admit/admit.ts";
import type { Router } from "../route/route.ts";
import type { Plan } from "../config/diff.ts";
import type { Config, ListenerConfig } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { formatAddress, type SocketAddress } from "../net/address.ts";
import type { Clock, NetPort } from "../runtime/types.ts";
import type { Collector } from "../stats/collector.ts";
import type { TotalCounters } from "../stats/counters.ts";
import { Pool } from "../upstream/pool.ts";
import type { StateBook } from "../upstream/state.ts";
import type { Exhaustion } from "./exhaustion.ts";
import type { Sessions } from "./sessions.ts";
import { TcpProxy } from "./tcp.ts";
import { UdpProxy } from "./udp.ts";

/** A TCP or UDP listener with its pool. */
type Proxy = TcpProxy | UdpProxy;

/** What the listeners need. */
export interface ListenersDeps {
  readonly net: Pick<NetPort, "listenTcp" | "connectTcp" | "relayTcp" | "listenUdp" | "connectUdp">;
  readonly clock: Clock;
  readonly log: Logger;
  readonly collector: Collector;
  readonly states: StateBook;
  readonly sessions: Sessions;
  /** Randomness for random strategies; injectable for tests. */
  readonly random?: () => number;
  readonly admit?: AdmitRule;
  /** Builds each listener's routing stage; its own pool when absent. */
  readonly router?: (pool: Pool) => Router;
  /** Where failures of ours (out of descriptors) are reported. */
  readonly exhaustion?: Exhaustion;
  /** Mask client addresses in logs (`anonymize_ips`). */
  readonly anonymize?: boolean;
  /** Where totals go; the collector's own when absent. */
  readonly total?: TotalCounters;
  /** Bind TCP listeners with SO_REUSEPORT (worker threads sharing a port, takeover). */
  readonly reusePort?: boolean;
  /** Bind UDP listeners with SO_REUSEPORT (worker threads sharing a port). */
  readonly reusePortUdp?: boolean;
}

/** A bound listener, as {@linkcode Listeners.addresses} reports it. */
export interface BoundListener {
  readonly key: string;
  readonly name: string;
  readonly address: SocketAddress;
}

/**
 * Binds each address without SO_REUSEPORT and lets it go again: fails with
 * `Cannot listen on ...: address in use` when any other socket holds it,
 * which a bind with SO_REUSEPORT would join silently instead.
 */
export async function ensureFree(
  net: Pick<NetPort, "listenTcp" | "listenUdp">,
  configs: readonly ListenerConfig[],
): Promise<void> {
  for (const config of configs) {
    if (config.listen.port === 0) continue;
    // Without SO_REUSEPORT: Linux refuses it when any socket holds the port, shared or not.
    const probe = config.protocol === "udp"
      ? await net.listenUdp(config.listen, () => {})
      : await net.listenTcp(config.listen, (conn) => conn.abort());
    await probe.close();
  }
}

/** The running listeners of one thread. */
export class Listeners {
  private readonly deps: ListenersDeps;
  private readonly proxies = new Map<string, Proxy>();
  /** Removed UDP listeners whose sessions still run; their socket closes when the last one ends. */
  private readonly draining = new Set<UdpProxy>();
  /** Bound by {@linkcode prepare}, not serving until {@linkcode commit}. */
  private pending: Proxy[] = [];
  private sweepTimer: unknown;

  constructor(deps: ListenersDeps) {
    this.deps = deps;
  }

  /** Binds every listener of `config`; if one cannot bind, the others are closed again and the error is thrown. */
  async start(config: Config): Promise<void> {
    for (const proxy of await this.bind(config.listeners)) this.proxies.set(proxy.config.key, proxy);
    this.schedule();
  }

  /**
   * Applies a reload's plan: new listeners bind first, and only when all of
   * them bound are removals and updates applied, so a failed bind changes
   * nothing. Removed listeners stop accepting; their sessions drain.
   */
  async apply(plan: Plan): Promise<void> {
    await this.prepare(plan);
    await this.commit(plan);
  }

  /**
   * First half of {@linkcode apply}: checks the plan names known listeners and
   * binds the new ones. On failure nothing stays bound. Split out so that
   * several threads can all bind before any of them commits. A prepared
   * listener serves as soon as it is bound; if the reload is abandoned it stops
   * accepting and the few connections it took run to their end.
   */
  async prepare(plan: Plan): Promise<BoundListener[]> {
    const unknown = [...plan.remove, ...plan.update.map((u) => u.key)].filter((key) => !this.proxies.has(key));
    if (unknown.length) throw new Error(`Cannot apply the plan: no listener ${unknown.join(", ")}`);
    await this.abandon();
    this.pending = await this.bind(plan.add);
    return this.pending.flatMap((
      p,
    ) => (p.address ? [{ key: p.config.key, name: p.config.name, address: p.address }] : []));
  }

  /** Closes listeners bound by {@linkcode prepare} that will not be committed. */
  async abandon(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    await Promise.all(pending.map((p) => p.stopAccepting()));
    for (const proxy of pending) this.forget(proxy);
  }

  /** Second half of {@linkcode apply}: serves the prepared listeners, removes and updates the rest. */
  async commit(plan: Plan): Promise<void> {
    for (const proxy of this.pending) this.proxies.set(proxy.config.key, proxy);
    this.pending = [];
    for (const key of plan.remove) {
      const proxy = this.proxies.get(key);
      if (!proxy) continue;
      this.proxies.delete(key);
      await proxy.stopAccepting();
      if (proxy instanceof UdpProxy && proxy.size > 0) this.draining.add(proxy);
      this.forget(proxy);
      this.deps.log.info("listener.stop", { listener: proxy.config.name });
    }
    for (const change of plan.update) {
      const proxy = this.proxies.get(change.key);
      if (!proxy) continue;
      const { removed } = proxy.update(change.config);
      for (const backend of removed) this.deps.collector.retire(backend.counters);
    }
    this.schedule();
  }

  /** Bound addresses (the real port when 0 was configured). */
  addresses(): BoundListener[] {
    return [...this.proxies.values()].flatMap((p) =>
      p.address ? [{ key: p.config.key, name: p.config.name, address: p.address }] : []
    );
  }

  /** The pool of the listener with `key`. */
  pool(key: string): Pool | undefined {
    return this.proxies.get(key)?.pool;
  }

  /**
   * Graceful shutdown: stop accepting, let live sessions finish for up to
   * `drainTimeoutMs`, then abort what is left. Resolves when none is live.
   */
  async shutdown(drainTimeoutMs: number): Promise<{ drained: number; aborted: number }> {
    const { sessions, log, clock } = this.deps;
    await this.abandon();
    // UDP listeners still answer new clients until they close (see UdpProxy.stopAccepting).
    await this.stopAccepting({ keepServing: true });
    const live = sessions.size;
    if (live > 0) log.info("shutdown.drain", { connections: live, timeout_ms: drainTimeoutMs });
    let timer: unknown;
    const timedOut = await Promise.race([
      sessions.whenEmpty().then(() => false),
      new Promise<boolean>((resolve) => (timer = clock.setTimeout(() => resolve(true), drainTimeoutMs))),
    ]);
    clock.clearTimeout(timer);
    const aborted = timedOut ? sessions.size : 0;
    if (timedOut) {
      log.warn("shutdown.abort", { connections: aborted });
      sessions.abortAll("shutdown");
      await Promise.all(this.udp().map((p) => p.close("shutdown")));
      await sessions.whenEmpty();
    }
    await Promise.all(this.udp().map((p) => p.close("shutdown")));
    if (this.sweepTimer !== undefined) clock.clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    // Sessions that began during the drain (UDP) may be among those aborted.
    return { drained: Math.max(0, live - aborted), aborted };
  }

  /** Every UDP listener, running or draining. */
  private udp(): UdpProxy[] {
    return [...this.proxies.values(), ...this.draining].filter((p): p is UdpProxy => p instanceof UdpProxy);
  }

  /** Stops listening without touching live sessions; `keepServing` as for {@linkcode UdpProxy.stopAccepting}. */
  async stopAccepting(options: { keepServing?: boolean } = {}): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.stopAccepting(options)));
  }

  /** Binds every listener of `configs` and returns them; on failure closes those bound and throws. */
  private async bind(configs: readonly ListenerConfig[]): Promise<Proxy[]> {
    const started: Proxy[] = [];
    let building: Proxy | undefined;
    try {
      for (const config of configs) {
        const proxy = (building = this.build(config));
        const reusePort = proxy instanceof UdpProxy ? this.deps.reusePortUdp : this.deps.reusePort;
        const address = await proxy.start({ reusePort });
        started.push(proxy);
        this.deps.log.info("listener.start", {
          listener: config.name,
          address: formatAddress(address),
          balance: config.balance,
          backends: config.backends.length,
        });
      }
    } catch (error) {
      await Promise.all(started.map((p) => p.stopAccepting()));
      // Nothing of a failed bind may stay behind: no counters shown, no state kept.
      for (const proxy of new Set([...started, ...(building ? [building] : [])])) this.forget(proxy);
      throw error;
    }
    return started;
  }

  /** Retires a listener's counters (forgotten once idle) and forgets its backends' state. */
  private forget(proxy: Proxy): void {
    this.deps.collector.retire(proxy.counters);
    for (const backend of proxy.pool.backends) this.deps.states.forget(proxy.config.key, backend.key);
  }

  private build(config: ListenerConfig): Proxy {
    const { collector, states, net, clock, log, sessions, admit, router, exhaustion } = this.deps;
    const counters = collector.listener(config.key, config.name);
    const pool = new Pool(config, {
      states,
      countersFor: (key, name) => collector.backend(counters, key, name),
      balancer: { random: this.deps.random ?? Math.random },
    });
    const route = router?.(pool);
    const total = this.deps.total ?? collector.total;
    const anonymize = this.deps.anonymize;
    if (config.protocol === "udp") {
      return new UdpProxy(config, counters, pool, { net, clock, log, sessions, anonymize });
    }
    return new TcpProxy(config, counters, pool, {
      net,
      clock,
      log,
      sessions,
      total,
      anonymize,
      admit,
      route,
      exhaustion,
    });
  }

  /** Sweeps often enough that an idle timeout fires within a quarter of itself. */
  private schedule(): void {
    const { clock } = this.deps;
    const idle = [...this.proxies.values()].flatMap((p) => [p.config.idleTimeoutMs, p.config.halfCloseTimeoutMs])
      .filter((ms) => ms > 0);
    const every = Math.min(1000, Math.max(25, Math.floor(Math.min(...idle, 4000) / 4)));
    if (this.sweepTimer !== undefined) clock.clearInterval(this.sweepTimer);
    this.sweepTimer = clock.setInterval(() => this.sweep(), every);
  }

  private sweep(): void {
    const now = this.deps.clock.now();
    this.deps.sessions.sweepIdle(now);
    this.deps.exhaustion?.check(now);
    for (const proxy of this.proxies.values()) proxy.pool.expireEjections(now);
    for (const proxy of this.udp()) proxy.sweep(now);
    for (const proxy of this.draining) if (proxy.address === undefined) this.draining.delete(proxy);
  }
}
