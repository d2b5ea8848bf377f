/**
 * Composition root: a validated {@linkcode Config} and a runtime in, a running
 * Sluice out (listeners, collector, admin server). Used by the CLI and by tests.
 *
 * @module
 */
import { createAdminApp } from "./admin/app.ts";
import type { ConnectionsJson } from "./admin/views.ts";
import type { Config } from "./config/schema.ts";
import { createLogger, type Logger } from "./log.ts";
import { formatAddress, type SocketAddress } from "./net/address.ts";
import { Supervisor } from "./proxy/supervisor.ts";
import type { HttpServer, Runtime } from "./runtime/types.ts";
import { Collector } from "./stats/collector.ts";
import { VERSION } from "./version.ts";
import { startWorkerGroup } from "./workers/group.ts";

/** The listening side, whether it runs on this thread or on worker threads. */
interface Listeners {
  addresses(): { name: string; address: SocketAddress }[];
  /** Set when connections live on other threads. */
  connections?(limit: number): Promise<ConnectionsJson>;
  shutdown(drainTimeoutMs: number): Promise<{ drained: number; aborted: number }>;
}

/** Starts listeners here, or on `config.workers` threads where the runtime can share a port. */
async function startListeners(runtime: Runtime, config: Config, collector: Collector, log: Logger): Promise<Listeners> {
  if (config.workers > 1) {
    if (runtime.supportsReusePort) return await startWorkerGroup(runtime, config, collector, log);
    // Node 20 has no SO_REUSEPORT and worker threads cannot share a listening socket.
    log.warn("workers.unsupported", { workers: config.workers, runtime: runtime.name, reason: "no SO_REUSEPORT here; running one listener thread" });
  }
  const supervisor = new Supervisor({ runtime, log, collector });
  await supervisor.start(config);
  return { addresses: () => supervisor.addresses(), shutdown: (ms) => supervisor.shutdown(ms) };
}

/** A running instance. */
export interface Sluice {
  readonly config: Config;
  readonly collector: Collector;
  readonly log: Logger;
  /** Bound listener addresses by name. */
  listeners(): { name: string; address: SocketAddress }[];
  /** The admin server's address, when enabled. */
  readonly adminAddress: SocketAddress | undefined;
  /** Drains (up to the configured drain timeout) and stops everything. */
  shutdown(): Promise<{ drained: number; aborted: number }>;
}

/**
 * Starts listeners and the admin server for `config`.
 * Rejects (with everything already started stopped again) when an address cannot be bound.
 *
 * @example
 * ```ts
 * const sluice = await startSluice(selectRuntime(), config);
 * console.log(sluice.listeners());
 * await sluice.shutdown();
 * ```
 */
export async function startSluice(runtime: Runtime, config: Config, options: { log?: Logger } = {}): Promise<Sluice> {
  const log = options.log ?? createLogger(runtime, config);
  const collector = new Collector({ version: VERSION, runtime: runtime.name, runtimeVersion: runtime.version }, runtime.clock);
  const listeners = await startListeners(runtime, config, collector, log);
  let admin: HttpServer | undefined;
  if (config.admin) {
    const connections = listeners.connections?.bind(listeners);
    try {
      admin = await runtime.serveHttp(config.admin.listen, createAdminApp(collector, runtime.clock, connections).fetch);
    } catch (error) {
      await listeners.shutdown(0);
      throw error;
    }
    log.info("admin.start", { address: formatAddress(admin.address) });
  }
  collector.start();
  return {
    config,
    collector,
    log,
    listeners: () => listeners.addresses(),
    adminAddress: admin?.address,
    async shutdown() {
      const result = await listeners.shutdown(config.drainTimeoutMs);
      await admin?.close();
      collector.stop();
      log.info("shutdown.done", result);
      log.flush();
      return result;
    },
  };
}
