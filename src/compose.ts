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
import type { Config } from "./config/schema.ts";
import { startHistoryFile } from "./history-file.ts";
import { createLogger, type Logger } from "./log.ts";
import { formatAddress, type SocketAddress } from "./net/address.ts";
import { Exhaustion } from "./proxy/exhaustion.ts";
import { diff, type Plan } from "./config/diff.ts";
import type { Document, Overrides } from "./config/sources.ts";
import { ConfigFile } from "./control/config-file.ts";
import { PartlyApplied, Reloader } from "./control/reloader.ts";
import { type BoundListener, ensureFree } from "./proxy/listeners.ts";
import type { HttpServer, Runtime } from "./runtime/types.ts";
import { Baseline } from "./stats/baseline.ts";
import { topView } from "./stats/client-top.ts";
import { Collector } from "./stats/collector.ts";
import { StateBook } from "./upstream/state.ts";
import { VERSION } from "./version.ts";
import { startServing } from "./serving.ts";

/** How often a taking-over instance tries the admin address its predecessor still holds. */
const ADMIN_RETRY_MS = 250;

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
  const states = new StateBook(() => runtime.clock.now());
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
        plan.add.filter((l) => !leaving.has(formatAddress(l.listen))),
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
    {
      apply,
      current: () => running,
      log,
      clock: runtime.clock,
      file,
      overrides: options.overrides,
      localHosts: () => runtime.host.localAddresses(),
    },
    { document: options.document, fileText: options.fileText },
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
