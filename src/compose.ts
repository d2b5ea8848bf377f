/**
 * Composition root: a validated {@linkcode Config} and a runtime in, a running
 * Sluice out (listeners on this thread or on worker threads, collector,
 * backend states, admin server). Used by the CLI and by tests.
 *
 * @module
 */
import { createAdminApp } from "./admin/app.ts";
import { statsView } from "./admin/views.ts";
import { HealthChecks } from "./checks.ts";
import type { Config, Protocol } from "./config/schema.ts";
import { startHistoryFile } from "./history-file.ts";
import { createLogger, type Logger } from "./log.ts";
import { formatAddress, type SocketAddress } from "./net/address.ts";
import { Exhaustion } from "./proxy/exhaustion.ts";
import { diff, type Plan } from "./config/diff.ts";
import type { Document, Overrides } from "./config/sources.ts";
import { ConfigFile } from "./control/config-file.ts";
import { PartlyApplied, Reloader } from "./control/reloader.ts";
import { type BoundListener, ensureFree, Listeners } from "./proxy/listeners.ts";
import { type IdSpace, Sessions } from "./proxy/sessions.ts";
import type { HttpServer, Runtime } from "./runtime/types.ts";
import { Baseline } from "./stats/baseline.ts";
import { type ClientTop, type TopSnapshot, topView } from "./stats/client-top.ts";
import { Collector } from "./stats/collector.ts";
import { TotalCounters } from "./stats/counters.ts";
import { mergeTables, type SessionFilter, type TableJson, tableJson } from "./stats/table-view.ts";
import type { Pool } from "./upstream/pool.ts";
import { type AdminState, type Health, StateBook } from "./upstream/state.ts";
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
  /** Tells every thread what an operator asked of a backend (the main thread's state is set by the caller). */
  setAdmin(listener: string, backend: string, admin: AdminState): void;
  /** Top clients of every thread. */
  top(): Promise<(ClientTop | TopSnapshot)[]>;
  /** Aborts live session `id` (both sides, reason `admin`); false when no thread has it. */
  closeConnection(id: number): Promise<boolean>;
  /** Binds a reload's new listeners everywhere; on failure nothing stays bound. */
  prepare(plan: Plan, config: Config): Promise<void>;
  /** Applies the prepared reload. */
  commit(): Promise<void>;
  /** Closes what {@linkcode prepare} bound. */
  abandon(): Promise<void>;
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
async function serveHere(
  deps: ServingDeps,
  config: Config,
  options: { total?: TotalCounters; ids?: IdSpace } = {},
): Promise<Serving> {
  const { runtime, collector, states, exhaustion, log } = deps;
  const { clock } = runtime;
  const total = options.total ?? collector.total;
  const sessions = new Sessions(total, collector.recent, options.ids);
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
  let planned: Plan | undefined;
  return {
    addresses: () => listeners.addresses(),
    connections: (limit, filter) => {
      const now = clock.now();
      return Promise.resolve(tableJson(sessions.list(), collector.recent.list(now), limit, now, filter));
    },
    pool: (key) => listeners.pool(key),
    // The StateBook the monitors and the admin API write is this thread's own.
    setHealth: () => {},
    setAdmin: () => {},
    closeConnection: (id) => Promise.resolve(sessions.abortById(id, "admin")),
    top: () => Promise.resolve([sessions.top]),
    prepare: async (plan) => {
      await listeners.prepare(plan);
      planned = plan;
    },
    commit: async () => {
      if (planned) await listeners.commit(planned);
      planned = undefined;
    },
    abandon: () => {
      planned = undefined;
      return listeners.abandon();
    },
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

/** The part of `plan` that concerns listeners of `protocol`. */
function planFor(plan: Plan, protocol: Protocol): Plan {
  const mine = (key: string) => key.startsWith(`${protocol}/`);
  return {
    ...plan,
    add: plan.add.filter((l) => l.protocol === protocol),
    remove: plan.remove.filter(mine),
    update: plan.update.filter((u) => mine(u.key)),
    unchanged: plan.unchanged.filter(mine),
  };
}

/** Both sides at once: TCP listeners on worker threads, UDP ones on this thread. */
function both(tcp: Serving, udp: Serving): Serving {
  const sides = [tcp, udp];
  return {
    addresses: () => [...tcp.addresses(), ...udp.addresses()],
    connections: async (limit, filter) =>
      mergeTables(await Promise.all(sides.map((s) => s.connections(limit, filter))), limit, filter?.sort),
    pool: (key) => tcp.pool(key) ?? udp.pool(key),
    setHealth: (listener, backend, health) => sides.forEach((s) => s.setHealth(listener, backend, health)),
    setAdmin: (listener, backend, admin) => sides.forEach((s) => s.setAdmin(listener, backend, admin)),
    closeConnection: async (id) => (await Promise.all(sides.map((s) => s.closeConnection(id)))).some(Boolean),
    top: async () => (await Promise.all(sides.map((s) => s.top()))).flat(),
    async prepare(plan, config) {
      // Both bind before either commits, so a failed bind on one side changes nothing on the other.
      const results = await Promise.allSettled([
        tcp.prepare(planFor(plan, "tcp"), config),
        udp.prepare(planFor(plan, "udp"), config),
      ]);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) {
        await Promise.all(sides.map((s) => s.abandon()));
        throw (failed as PromiseRejectedResult).reason;
      }
    },
    commit: async () => void await Promise.all(sides.map((s) => s.commit())),
    abandon: async () => void await Promise.all(sides.map((s) => s.abandon())),
    shutdown: async (ms) => {
      const [x, y] = await Promise.all(sides.map((s) => s.shutdown(ms)));
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
  const group = { collector: deps.collector, states: deps.states, log };
  if (net.supportsUdpReusePort) return await startWorkerGroup(runtime, config, group);
  // A datagram port this runtime cannot share: UDP stays on this thread, TCP goes to the workers; both sides
  // exist even when one has no listener yet, so that a reload can add one.
  if (udp.length > 0) log.info("workers.udp_main_thread", { runtime: runtime.name, listeners: udp.length });
  // The workers' merge sets the totals, so this thread keeps its own and adds them after each merge.
  const mine = new TotalCounters();
  // Session ids: workers take 1..n of every n + 1, this thread the last.
  const ids = { worker: config.workers, workers: config.workers + 1 };
  const here = await serveHere(deps, { ...config, listeners: udp }, { total: mine, ids });
  try {
    const workers = await startWorkerGroup(runtime, { ...config, listeners: tcp }, {
      ...group,
      idSpace: config.workers + 1,
    });
    deps.collector.addSource(() => addTotals(deps.collector.total, mine));
    return both(workers, here);
  } catch (error) {
    await here.shutdown(0);
    throw error;
  }
}

/** A running instance. */
export interface Sluice {
  /** The running configuration (changed by reloads). */
  readonly config: Config;
  /** The one way the running configuration changes: file, signal, API. */
  readonly reloader: Reloader;
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

/** How {@linkcode startSluice} is started. */
export interface StartOptions {
  readonly log?: Logger;
  /** Bind beside a running instance (SO_REUSEPORT) rather than refuse its addresses. */
  readonly takeover?: boolean;
  /** The document `config` came from (before overrides): what API edits change and what is written back. */
  readonly document?: Document;
  /** The configuration file: re-read on reload, written with `persist`, watched when `watch` is set. */
  readonly file?: string;
  /** The file's text as loaded, so that watching it does not reload what already runs. */
  readonly fileText?: string;
  /** Reload when the file changes. */
  readonly watch?: boolean;
  /** Command-line settings that win over the file, on every reload too. */
  readonly overrides?: Overrides;
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
  options: StartOptions = {},
): Promise<Sluice> {
  const log = options.log ?? createLogger(runtime, config);
  const info = { version: VERSION, runtime: runtime.name, runtimeVersion: runtime.version };
  const collector = new Collector(info, runtime.clock);
  const states = new StateBook();
  const exhaustion = new Exhaustion(log, collector.total);
  const takeover = options.takeover === true;
  const serving = await startServing({ runtime, collector, states, exhaustion, log }, config, takeover);
  const checks = new HealthChecks({
    runtime,
    log,
    states,
    collector,
    pool: (key) => serving.pool(key),
    setHealth: (listener, backend, health) => serving.setHealth(listener, backend, health),
  });
  let running = config;
  let draining = false;
  /** Applies a validated configuration: all new listeners bind (on every thread) before anything else changes. */
  const apply = async (next: Config): Promise<Plan> => {
    const plan = diff(running, next);
    if (runtime.net.supportsReusePort) {
      // Listeners bind with SO_REUSEPORT (workers, takeover), which would silently share a port another
      // program holds: as at start, make sure it is free, except where a listener being removed holds it.
      const leaving = new Set(
        serving.addresses().filter((b) => plan.remove.includes(b.key)).map((b) => formatAddress(b.address)),
      );
      await ensureFree(
        runtime.net,
        plan.add.filter((l) => l.protocol === "tcp" && !leaving.has(formatAddress(l.listen))),
      );
    }
    await serving.prepare(plan, next);
    try {
      await serving.commit();
    } catch (error) {
      running = next;
      throw new PartlyApplied((error as Error).message);
    }
    // What needs a restart keeps running as it was.
    running = {
      ...next,
      workers: running.workers,
      admin: running.admin,
      anonymizeIps: running.anonymizeIps,
      stats: running.stats,
    };
    checks.apply(running);
    if (plan.settings.includes("log")) log.configure(running.log);
    return plan;
  };
  const baseline = new Baseline();
  const file = options.file === undefined ? undefined : new ConfigFile(options.file, runtime);
  const reloader = new Reloader(
    { apply, log, clock: runtime.clock, file, overrides: options.overrides, localHosts: runtime.host.localAddresses() },
    { config, document: options.document, fileText: options.fileText },
  );
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
      admin: config.admin,
      log,
      control: {
        reloader,
        states,
        setAdmin: (listener, backend, state) => serving.setAdmin(listener, backend, state),
        closeConnection: (id) => serving.closeConnection(id),
        resetStats: () => {
          collector.gather();
          baseline.reset(statsView(collector, states, clock.now()), clock.wallNow());
          collector.clearHistory();
          log.info("stats.reset", {});
        },
        backups: () => file?.backups() ?? Promise.resolve([]),
      },
      top: async (by, limit) => topView(await serving.top(), by, clock.now(), limit),
      draining: () => draining,
      addresses: () => serving.addresses(),
      baseline,
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
  checks.apply(config);
  const unwatch = options.watch && file ? file.watch(() => void reloader.reloadFile("file", true), log) : undefined;
  const historyFile = config.stats.stateFile === null
    ? undefined
    : await startHistoryFile(config.stats.stateFile, { host: runtime.host, clock: runtime.clock, log, collector });
  collector.start();
  let stopping: Promise<{ drained: number; aborted: number }> | undefined;
  return {
    get config() {
      return running;
    },
    reloader,
    collector,
    states,
    log,
    listeners: () => serving.addresses(),
    get adminAddress() {
      return admin?.address;
    },
    shutdown() {
      // Twice is once: a second call waits for the first.
      stopping ??= stop();
      return stopping;
    },
  };

  async function stop(): Promise<{ drained: number; aborted: number }> {
    stopped = true;
    if (adminRetry !== undefined) runtime.clock.clearInterval(adminRetry);
    draining = true;
    unwatch?.();
    // A reload under way finishes first (its listeners then drain with the rest); none starts after.
    await reloader.close();
    checks.stop();
    const result = await serving.shutdown(running.drainTimeoutMs);
    await historyFile?.stop();
    await admin?.close();
    collector.stop();
    log.info("shutdown.done", result);
    log.flush();
    return result;
  }
}
