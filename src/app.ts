/**
 * Composition root: a validated {@linkcode Config} and a runtime in, a running
 * Sluice out (listeners, collector, admin server). Used by the CLI and by tests.
 *
 * @module
 */
import { createAdminApp } from "./admin/app.ts";
import type { Config } from "./config/schema.ts";
import { Logger } from "./log.ts";
import { formatAddress, type SocketAddress } from "./net/address.ts";
import { Supervisor } from "./proxy/supervisor.ts";
import type { HttpServer, Runtime } from "./runtime/types.ts";
import { Collector } from "./stats/collector.ts";
import { VERSION } from "./version.ts";

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

/** Builds the logger the way the config asks, writing to standard error. */
export function createLogger(runtime: Runtime, config: Pick<Config, "log">): Logger {
  const { clock } = runtime;
  return new Logger(config.log, {
    write: (text) => runtime.writeErr(text),
    wallNow: () => clock.wallNow(),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (handle) => clock.clearTimeout(handle),
  });
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
  const supervisor = new Supervisor({ runtime, log, collector });
  await supervisor.start(config);
  let admin: HttpServer | undefined;
  if (config.admin) {
    try {
      admin = await runtime.serveHttp(config.admin.listen, createAdminApp(collector, runtime.clock).fetch);
    } catch (error) {
      await supervisor.shutdown(0);
      throw error;
    }
    log.info("admin.start", { address: formatAddress(admin.address) });
  }
  collector.start();
  return {
    config,
    collector,
    log,
    listeners: () => supervisor.addresses(),
    adminAddress: admin?.address,
    async shutdown() {
      const result = await supervisor.shutdown(config.drainTimeoutMs);
      await admin?.close();
      collector.stop();
      log.info("shutdown.done", result);
      log.flush();
      return result;
    },
  };
}
