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
import { type BoundListener, ensureFree, Listeners } from "./proxy/listeners.ts";
import { Sessions } from "./proxy/sessions.ts";
import type { HttpServer, Runtime } from "./runtime/types.ts";
import { Collector } from "./stats/collector.ts";
import { type TableJson, tableJson } from "./stats/table-view.ts";
import { StateBook } from "./upstream/state.ts";
import { VERSION } from "./version.ts";
import { startWorkerGroup } from "./workers/group.ts";

/** How often a taking-over instance tries the admin address its predecessor still holds. */
const ADMIN_RETRY_MS = 250;

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
  takeover: boolean,
): Promise<Serving> {
  // Listeners bind with SO_REUSEPORT wherever the runtime can, so that a later instance can take over
  // (--takeover). Unless this one is taking over, first make sure nobody else holds the addresses.
  if (runtime.net.supportsReusePort && !takeover) await ensureFree(runtime.net, config.listeners);
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
  const reusePort = runtime.net.supportsReusePort;
  const listeners = new Listeners({ net: runtime.net, clock, log, collector, states, sessions, exhaustion, reusePort });
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
export async function startSluice(
  runtime: Runtime,
  config: Config,
  options: { log?: Logger; takeover?: boolean } = {},
): Promise<Sluice> {
  const log = options.log ?? createLogger(runtime, config);
  const info = { version: VERSION, runtime: runtime.name, runtimeVersion: runtime.version };
  const collector = new Collector(info, runtime.clock);
  const states = new StateBook();
  const exhaustion = new Exhaustion(log);
  const takeover = options.takeover === true;
  const serving = await startServing(runtime, config, collector, states, exhaustion, log, takeover);
  let admin: HttpServer | undefined;
  let adminRetry: unknown;
  let stopped = false;
  if (config.admin) {
    const { clock } = runtime;
    const app = createAdminApp({ collector, states, clock, exhaustion, connections: serving.connections });
    const onError = (error: string) => exhaustion.report("admin", error, clock.now());
    const serveAdmin = () => runtime.http.serve({ ...config.admin!.listen, onError }, app.fetch);
    try {
      admin = await serveAdmin();
      log.info("admin.start", { address: formatAddress(admin.address) });
    } catch (error) {
      // The instance being taken over keeps its admin address until it has drained.
      if (!takeover || !/address in use/.test((error as Error).message)) {
        await serving.shutdown(0);
        throw error;
      }
      log.info("admin.waiting", { address: formatAddress(config.admin.listen), reason: "address in use" });
      adminRetry = runtime.clock.setInterval(() => {
        serveAdmin().then((server) => {
          runtime.clock.clearInterval(adminRetry);
          adminRetry = undefined;
          if (stopped) return void server.close();
          admin = server;
          log.info("admin.start", { address: formatAddress(server.address) });
        }, () => {});
      }, ADMIN_RETRY_MS);
    }
  }
  collector.start();
  return {
    config,
    collector,
    states,
    log,
    listeners: () => serving.addresses(),
    get adminAddress() {
      return admin?.address;
    },
    async shutdown() {
      stopped = true;
      if (adminRetry !== undefined) runtime.clock.clearInterval(adminRetry);
      const result = await serving.shutdown(config.drainTimeoutMs);
      await admin?.close();
      collector.stop();
      log.info("shutdown.done", result);
      log.flush();
      return result;
    },
  };
}
