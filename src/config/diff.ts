/**
 * What changes between two configurations, as a plan a running Sluice can
 * apply without touching what stayed the same. Pure: no I/O, no state.
 *
 * Identity, not names, decides: a listener is its {@linkcode ListenerConfig.key}
 * (protocol + configured address), a backend its address. A listener whose
 * address changed is a removal plus an addition; a renamed one is an update.
 *
 * @module
 */
import { formatAddress } from "../net/address.ts";
import { backendKey, type Config, type ListenerConfig } from "./schema.ts";

export { backendKey };

/** How one kept listener's pool changes, by backend address. */
export interface PoolChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Kept backends whose weight or name changed. */
  readonly changed: readonly string[];
}

/** A listener present before and after, with its new settings. */
export interface ListenerUpdate {
  readonly key: string;
  readonly config: ListenerConfig;
  readonly pool: PoolChange;
  /** True when anything but the pool differs (name, balance, timeouts, retries, breaker). */
  readonly settingsChanged: boolean;
}

/** Settings a running Sluice keeps until it restarts. */
export type RestartSetting = "workers" | "admin" | "anonymize_ips" | "stats";

/** Everything a reload has to do. */
export interface Plan {
  /** Listeners to bind, before anything else changes. */
  readonly add: readonly ListenerConfig[];
  /** Keys of listeners to stop accepting on and drain. */
  readonly remove: readonly string[];
  /** Kept listeners that differ in any way. */
  readonly update: readonly ListenerUpdate[];
  /** Keys of listeners that are exactly as before. */
  readonly unchanged: readonly string[];
  /** Top-level settings that differ and take effect only after a restart. */
  readonly restart: readonly RestartSetting[];
  /** Top-level settings that differ and can change while running (`drain_timeout`, `log`). */
  readonly settings: readonly ("drain_timeout" | "log")[];
}

function poolChange(before: ListenerConfig, after: ListenerConfig): PoolChange {
  const old = new Map(before.backends.map((b) => [backendKey(b), b]));
  const next = new Map(after.backends.map((b) => [backendKey(b), b]));
  const added = [...next.keys()].filter((k) => !old.has(k));
  const removed = [...old.keys()].filter((k) => !next.has(k));
  const changed = [...next].filter(([k, b]) => {
    const o = old.get(k);
    return o !== undefined && (o.weight !== b.weight || o.name !== b.name);
  }).map(([k]) => k);
  return { added, removed, changed };
}

/** Settings of a listener other than its identity and backends. */
function settingsOf(l: ListenerConfig): unknown[] {
  return [
    l.name,
    l.balance,
    l.connectTimeoutMs,
    l.idleTimeoutMs,
    l.halfCloseTimeoutMs,
    l.retries,
    l.maxConnections,
    l.maxFails,
    l.failTimeoutMs,
    l.maxSessions,
    l.responses,
    l.requests,
    JSON.stringify(l.health),
  ];
}

/**
 * Compares two validated configurations.
 *
 * @example
 * ```ts
 * const plan = diff(running, next);
 * plan.add.map((l) => l.key); // ["tcp/0.0.0.0:8443"]
 * plan.update[0].pool.removed; // ["10.0.0.6:80"]
 * ```
 */
export function diff(before: Config, after: Config): Plan {
  const old = new Map(before.listeners.map((l) => [l.key, l]));
  const next = new Map(after.listeners.map((l) => [l.key, l]));
  const update: ListenerUpdate[] = [];
  const unchanged: string[] = [];
  for (const [key, config] of next) {
    const previous = old.get(key);
    if (!previous) continue;
    const pool = poolChange(previous, config);
    const a = settingsOf(previous);
    const settingsChanged = settingsOf(config).some((value, i) => value !== a[i]);
    const poolSame = pool.added.length + pool.removed.length + pool.changed.length === 0 &&
      previous.backends.every((b, i) => backendKey(b) === backendKey(config.backends[i]));
    if (settingsChanged || !poolSame) update.push({ key, config, pool, settingsChanged });
    else unchanged.push(key);
  }
  const restart: RestartSetting[] = [];
  if (before.workers !== after.workers) restart.push("workers");
  const adminOf = (
    c: Config,
  ) => (c.admin ? JSON.stringify({ ...c.admin, listen: formatAddress(c.admin.listen) }) : "off");
  if (adminOf(before) !== adminOf(after)) restart.push("admin");
  if (before.anonymizeIps !== after.anonymizeIps) restart.push("anonymize_ips");
  if (before.stats.stateFile !== after.stats.stateFile) restart.push("stats");
  const settings: ("drain_timeout" | "log")[] = [];
  if (before.drainTimeoutMs !== after.drainTimeoutMs) settings.push("drain_timeout");
  if (before.log.level !== after.log.level || before.log.format !== after.log.format) settings.push("log");
  return {
    add: after.listeners.filter((l) => !old.has(l.key)),
    remove: before.listeners.filter((l) => !next.has(l.key)).map((l) => l.key),
    update,
    unchanged,
    restart,
    settings,
  };
}
