/**
 * Wiring only: builds a pool and a proxy per configured listener, starts and
 * stops them, runs the periodic sweep, and drains on shutdown.
 *
 * @module
 */
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { formatAddress, type SocketAddress } from "../net/address.ts";
import type { Runtime } from "../runtime/types.ts";
import type { Collector } from "../stats/collector.ts";
import { Pool } from "../upstream/pool.ts";
import { TcpProxy } from "./tcp.ts";

/** What the supervisor needs. */
export interface SupervisorDeps {
  readonly runtime: Runtime;
  readonly log: Logger;
  readonly collector: Collector;
  /** Randomness for random strategies; injectable for tests. */
  readonly random?: () => number;
}

/** The running listeners of one configuration. */
export class Supervisor {
  private proxies: TcpProxy[] = [];
  private pools: Pool[] = [];
  private sweepTimer: unknown;

  constructor(private readonly deps: SupervisorDeps) {}

  /** Starts every listener; if one cannot bind, the others are stopped and the error is thrown. */
  async start(config: Config, options: { reusePort?: boolean } = {}): Promise<void> {
    const { runtime, log, collector } = this.deps;
    const random = this.deps.random ?? Math.random;
    for (const listener of config.listeners) {
      const pool = new Pool(listener, (backend) => collector.backend(listener.name, backend), { random });
      const proxy = new TcpProxy(listener, { runtime, log, table: collector.table, stats: collector.listener(listener.name), pool });
      this.pools.push(pool);
      this.proxies.push(proxy);
    }
    try {
      for (const proxy of this.proxies) {
        const address = await proxy.start(options);
        log.info("listener.start", { listener: proxy.config.name, address: formatAddress(address), balance: proxy.config.balance, backends: proxy.config.backends.length });
      }
    } catch (error) {
      await this.stopAccepting();
      throw error;
    }
    const idle = config.listeners.map((l) => l.idleTimeoutMs).filter((ms) => ms > 0);
    // Sweep often enough that an idle timeout fires within a quarter of itself.
    const every = Math.min(1000, Math.max(25, Math.floor(Math.min(...idle, 4000) / 4)));
    this.sweepTimer = runtime.clock.setInterval(() => this.sweep(), every);
  }

  /** Bound addresses by listener name (the real port when 0 was configured). */
  addresses(): { name: string; address: SocketAddress }[] {
    return this.proxies.flatMap((p) => (p.address ? [{ name: p.config.name, address: p.address }] : []));
  }

  /**
   * Graceful shutdown: stop accepting, let live connections finish for up to
   * `drainTimeoutMs`, then abort what is left. Resolves when none is live.
   */
  async shutdown(drainTimeoutMs: number): Promise<{ drained: number; aborted: number }> {
    const { collector, log, runtime } = this.deps;
    const table = collector.table;
    await this.stopAccepting();
    const live = table.size;
    if (live > 0) log.info("shutdown.drain", { connections: live, timeout_ms: drainTimeoutMs });
    let timer: unknown;
    const timedOut = await Promise.race([
      table.whenEmpty().then(() => false),
      new Promise<boolean>((resolve) => (timer = runtime.clock.setTimeout(() => resolve(true), drainTimeoutMs))),
    ]);
    runtime.clock.clearTimeout(timer);
    const aborted = timedOut ? table.size : 0;
    if (timedOut) {
      log.warn("shutdown.abort", { connections: aborted });
      table.abortAll("shutdown");
      await table.whenEmpty();
    }
    this.stopSweep();
    return { drained: live - aborted, aborted };
  }

  /** Stops listening and the sweep without touching live connections. */
  async stopAccepting(): Promise<void> {
    await Promise.all(this.proxies.map((p) => p.stopAccepting()));
  }

  private sweep(): void {
    const now = this.deps.runtime.clock.now();
    this.deps.collector.table.sweepIdle(now);
    for (const pool of this.pools) pool.refresh(now);
  }

  private stopSweep(): void {
    if (this.sweepTimer !== undefined) this.deps.runtime.clock.clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }
}
