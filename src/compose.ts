/**
 * Composition root: a validated {@linkcode Config} and a runtime in, a running
 * Sluice out (listeners on this thread or on worker threads, collector,
 * backend states, admin server). Used by the CLI and by tests.
 *
 * @module
 */
import { createAdminApp } from "./admin/app.ts";
import type { Config } from "./config/schema.ts";
import { createLogger, type Logger } from "./log.ts";
import { formatAddress, type SocketAddress } from "./net/address.ts";
import { Exhaustion } from "./proxy/exhaustion.ts";
import { type BoundListener, Listeners } from "./proxy/listeners.ts";
import { Sessions } from "./proxy/sessions.ts";
import type { HttpServer, Runtime } from "./runtime/types.ts";
import { Collector } from "./stats/collector.ts";
import { type TableJson, tableJson } from "./stats/table-view.ts";
import { StateBook } from "./upstream/state.ts";
import { VERSION } from "./version.ts";
import { startWorkerGroup } from "./workers/group.ts";

/** The listening side, whether it runs on this thread or on worker threads. */
interface Serving {
  addresses(): BoundListener[];
  connections(limit: number): Promise<TableJson>;
  shutdown(drainTimeoutMs: number): Promise<{ drained: number; aborted: number }>;
}

/** Starts listeners here, or on `config.workers` threads where the runtime can share a port. */
async function startServing(
  runtime: Runtime,
  config: Config,
  collector: Collector,
  states: StateBook,
  exhaustion: Exhaustion,
  log: Logger,
): Promise<Serving> {
  if (config.workers > 1) {
    if (runtime.net.supportsReusePort) return await startWorkerGroup(runtime, config, collector, states, log);
    // Node 20 has no SO_REUSEPORT and worker threads cannot share a listening socket.
    log.warn("workers.unsupported", {
      workers: config.workers,
      runtime: runtime.name,
      reason: "no SO_REUSEPORT here; running one listener thread",
    });
  }
  const { clock } = runtime;
  const sessions = new Sessions(collector.total, collector.recent);
  collector.addSource(() => sessions.foldAll());
  const listeners = new Listeners({ net: runtime.net, clock, log, collector, states, sessions, exhaustion });
  await listeners.start(config);
  return {
    addresses: () => listeners.addresses(),
    connections: (limit) => Promise.resolve(tableJson(sessions.list(), collector.recent.list(), limit, clock.now())),
    shutdown: (ms) => listeners.shutdown(ms),
  };
}

/** A running instance. */
export interface Sluice {
  readonly config: Config;
  readonly collector: Collector;
  readonly states: StateBook;
  readonly log: Logger;
  /** Bound listener addresses. */
  listeners(): BoundListener[];
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
  const info = { version: VERSION, runtime: runtime.name, runtimeVersion: runtime.version };
  const collector = new Collector(info, runtime.clock);
  const states = new StateBook();
  const exhaustion = new Exhaustion(log);
  const serving = await startServing(runtime, config, collector, states, exhaustion, log);
  let admin: HttpServer | undefined;
  if (config.admin) {
    const { clock } = runtime;
    const app = createAdminApp({ collector, states, clock, exhaustion, connections: serving.connections });
    const onError = (error: string) => exhaustion.report("admin", error, clock.now());
    try {
      admin = await runtime.http.serve({ ...config.admin.listen, onError }, app.fetch);
    } catch (error) {
      await serving.shutdown(0);
      throw error;
    }
    log.info("admin.start", { address: formatAddress(admin.address) });
  }
  collector.start();
  return {
    config,
    collector,
    states,
    log,
    listeners: () => serving.addresses(),
    adminAddress: admin?.address,
    async shutdown() {
      const result = await serving.shutdown(config.drainTimeoutMs);
      await admin?.close();
      collector.stop();
      log.info("shutdown.done", result);
      log.flush();
      return result;
    },
  };
}
