/**
 * Composition root: a validated {@linkcode Config} and a runtime in, a running
 * Sluice out (listeners on this thread or on worker threads, collector,
 * backend states, admin server). Used by the CLI and by tests.
 *
 * @module
 */
import { createAdminApp } from "./admin/app.ts";
import type { Config } from "./config/schema.ts";
import { startHistoryFile } from "./history-file.ts";
import { createLogger, type Logger } from "./log.ts";
import { formatAddress, type SocketAddress } from "./net/address.ts";
import { Exhaustion } from "./proxy/exhaustion.ts";
import { type BoundListener, ensureFree, Listeners } from "./proxy/listeners.ts";
import { Sessions } from "./proxy/sessions.ts";
import type { HttpServer, Runtime } from "./runtime/types.ts";
import { Collector } from "./stats/collector.ts";
import { TotalCounters } from "./stats/counters.ts";
import { mergeTables, type SessionFilter, type TableJson, tableJson } from "./stats/table-view.ts";
import { buildCheck } from "./upstream/health/checks.ts";
import { HealthMonitor } from "./upstream/health/monitor.ts";
import type { Pool } from "./upstream/pool.ts";
import { type Health, StateBook } from "./upstream/state.ts";
import { VERSION } from "./version.ts";
import { startWorkerGroup } from "./workers/group.ts";

/** How often a taking-over instance tries the admin address its predecessor still holds. */
const ADMIN_RETRY_MS = 250;

/** The listening side, whether it runs on this thread, on worker threads, or both. */
interface Serving {
  addresses(): BoundListener[];
  connections(limit: number, filter?: SessionFilter): Promise<TableJson>;
  /** The pool of a listener served on this thread. */
  pool(key: string): Pool | undefined;
  /** Tells every thread a backend's health (checks run on the main thread only). */
  setHealth(listener: string, backend: string, health: Health): void;
  shutdown(drainTimeoutMs: number): Promise<{ drained: number; aborted: number }>;
}

/** What starting listeners needs. */
interface ServingDeps {
  readonly runtime: Runtime;
  readonly collector: Collector;
  readonly states: StateBook;
  readonly exhaustion: Exhaustion;
  readonly log: Logger;
}

/** Listeners on this thread; `total` receives their totals (the collector's own unless workers set those). */
async function serveHere(deps: ServingDeps, config: Config, total = deps.collector.total): Promise<Serving> {
  const { runtime, collector, states, exhaustion, log } = deps;
  const { clock } = runtime;
  const sessions = new Sessions(total, collector.recent);
  collector.addSource(() => sessions.foldAll());
  const reusePort = runtime.net.supportsReusePort;
  const listeners = new Listeners({
    net: runtime.net,
    clock,
    log,
    collector,
    states,
    sessions,
    exhaustion,
    reusePort,
    total,
    anonymize: config.anonymizeIps,
  });
  await listeners.start(config);
  return {
    addresses: () => listeners.addresses(),
    connections: (limit, filter) => {
      const now = clock.now();
      return Promise.resolve(tableJson(sessions.list(), collector.recent.list(now), limit, now, filter));
    },
    pool: (key) => listeners.pool(key),
    setHealth: () => {}, // the StateBook the monitors write is this thread's own
    shutdown: (ms) => listeners.shutdown(ms),
  };
}

/** Adds one thread's totals to the merged ones. */
function addTotals(into: TotalCounters, from: TotalCounters): void {
  into.connections += from.connections;
  into.active += from.active;
  into.toUpstream += from.toUpstream;
  into.toClient += from.toClient;
  into.connected += from.connected;
  into.connectMs += from.connectMs;
  into.datagramsToUpstream += from.datagramsToUpstream;
  into.datagramsToClient += from.datagramsToClient;
  into.refusedTotal += from.refusedTotal;
  into.exhausted = Math.max(into.exhausted, from.exhausted);
}

/** Both sides at once: worker threads for some listeners, this thread for the rest. */
function both(a: Serving, b: Serving): Serving {
  return {
    addresses: () => [...a.addresses(), ...b.addresses()],
    connections: async (limit, filter) =>
      mergeTables([await a.connections(limit, filter), await b.connections(limit, filter)], limit, filter?.sort),
    pool: (key) => a.pool(key) ?? b.pool(key),
    setHealth: (listener, backend, health) => {
      a.setHealth(listener, backend, health);
      b.setHealth(listener, backend, health);
    },
    shutdown: async (ms) => {
      const [x, y] = await Promise.all([a.shutdown(ms), b.shutdown(ms)]);
      return { drained: x.drained + y.drained, aborted: x.aborted + y.aborted };
    },
  };
}

/** Starts listeners here, or on `config.workers` threads where the runtime can share a port. */
async function startServing(deps: ServingDeps, config: Config, takeover: boolean): Promise<Serving> {
  const { runtime, log } = deps;
  const net = runtime.net;
  // TCP listeners bind with SO_REUSEPORT wherever the runtime can, so that a later instance can take over
  // (--takeover). Unless this one is taking over, first make sure nobody else holds the addresses.
  const tcp = config.listeners.filter((l) => l.protocol === "tcp");
  const udp = config.listeners.filter((l) => l.protocol === "udp");
  if (net.supportsReusePort && !takeover) await ensureFree(net, tcp);
  if (config.workers <= 1) return await serveHere(deps, config);
  if (!net.supportsReusePort) {
    // Node 20 has no SO_REUSEPORT and worker threads cannot share a listening socket.
    log.warn("workers.unsupported", {
      workers: config.workers,
      runtime: runtime.name,
      reason: "no SO_REUSEPORT here; running one listener thread",
    });
    return await serveHere(deps, config);
  }
  if (net.supportsUdpReusePort || udp.length === 0) {
    return await startWorkerGroup(runtime, config, deps.collector, deps.states, log);
  }
  // A datagram port this runtime cannot share: UDP stays on this thread, TCP goes to the workers.
  log.info("workers.udp_main_thread", { runtime: runtime.name, listeners: udp.length });
  if (tcp.length === 0) return await serveHere(deps, config);
  // The workers' merge sets the totals, so this thread keeps its own and adds them after each merge.
  const mine = new TotalCounters();
  const here = await serveHere(deps, { ...config, listeners: udp }, mine);
  try {
    const workers = await startWorkerGroup(runtime, { ...config, listeners: tcp }, deps.collector, deps.states, log);
    deps.collector.addSource(() => addTotals(deps.collector.total, mine));
    return both(workers, here);
  } catch (error) {
    await here.shutdown(0);
    throw error;
  }
}

/**
 * Health checks of every listener that has a `[health]` section, on this
 * thread; results reach worker threads through `serving.setHealth`.
 */
function startHealth(
  deps: { runtime: Runtime; log: Logger; states: StateBook; collector: Collector; serving: Serving },
  config: Config,
): HealthMonitor[] {
  const { runtime, log, states, collector, serving } = deps;
  return config.listeners.filter((l) => l.health !== null).map((listener) => {
    const counters = collector.listener(listener.key, listener.name);
    const monitor = new HealthMonitor(listener, {
      clock: runtime.clock,
      log,
      states,
      random: Math.random,
      check: buildCheck(runtime.net, runtime.clock, listener.protocol, listener.health!),
      onResult: (key, backend, result) => {
        const member = serving.pool(key)?.backends.find((b) => b.key === backend);
        // A check that failed counts as slow as its timeout, as a failed connect does.
        member?.latency.observe(result.ok ? result.latencyMs : listener.health!.timeoutMs, runtime.clock.now());
      },
      onChange: (key, backend, health) => {
        const name = listener.backends.find((b) => formatAddress(b.address) === backend)?.name ?? backend;
        collector.backend(counters, backend, name).healthTransitions++;
        serving.setHealth(key, backend, health);
      },
    });
    monitor.start();
    return monitor;
  });
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
  const exhaustion = new Exhaustion(log, collector.total);
  const takeover = options.takeover === true;
  const serving = await startServing({ runtime, collector, states, exhaustion, log }, config, takeover);
  let admin: HttpServer | undefined;
  let adminRetry: unknown;
  let stopped = false;
  if (config.admin) {
    const { clock } = runtime;
    // Worker threads publish their episodes through the counters: /healthz says 503 when any thread is out.
    const anyThread = { isActive: (now: number) => exhaustion.isActive(now) || collector.total.exhausted > 0 };
    const app = createAdminApp({
      collector,
      states,
      clock,
      exhaustion: anyThread,
      connections: serving.connections,
      anonymize: config.anonymizeIps,
    });
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
  // Checks and the history file start once nothing can fail any more, so a failed start leaves no timer behind.
  const health = startHealth({ runtime, log, states, collector, serving }, config);
  const historyFile = config.stats.stateFile === null
    ? undefined
    : await startHistoryFile(config.stats.stateFile, { host: runtime.host, clock: runtime.clock, log, collector });
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
      for (const monitor of health) monitor.stop();
      const result = await serving.shutdown(config.drainTimeoutMs);
      await historyFile?.stop();
      await admin?.close();
      collector.stop();
      log.info("shutdown.done", result);
      log.flush();
      return result;
    },
  };
}
