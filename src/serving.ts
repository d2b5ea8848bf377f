/**
 * The listening side of a running Sluice, whichever threads it runs on: this
 * thread, `workers` threads sharing each port, or both (TCP on workers, UDP
 * here, where a runtime cannot share a datagram port). One interface for all
 * three, so that composition, reloads and the admin API need not know which.
 *
 * @module
 */
import type { Plan } from "./config/diff.ts";
import type { Config, Protocol } from "./config/schema.ts";
import type { Logger } from "./log.ts";
import type { Exhaustion } from "./proxy/exhaustion.ts";
import { type BoundListener, ensureFree, Listeners } from "./proxy/listeners.ts";
import { type IdSpace, Sessions } from "./proxy/sessions.ts";
import type { Runtime } from "./runtime/types.ts";
import type { ClientTop, TopSnapshot } from "./stats/client-top.ts";
import type { Collector } from "./stats/collector.ts";
import { TotalCounters } from "./stats/counters.ts";
import { mergeTables, type SessionFilter, type TableJson, tableJson } from "./stats/table-view.ts";
import type { Pool } from "./upstream/pool.ts";
import type { AdminState, Health, StateBook } from "./upstream/state.ts";
import { startWorkerGroup } from "./workers/group.ts";

/** The listening side, whether it runs on this thread, on worker threads, or both. */
export interface Serving {
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
export interface ServingDeps {
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
    // UDP listeners here share their port too where the runtime can, so that --takeover hands them over as well.
    reusePortUdp: runtime.net.supportsUdpReusePort,
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
export async function startServing(deps: ServingDeps, config: Config, takeover: boolean): Promise<Serving> {
  const { runtime, log } = deps;
  const net = runtime.net;
  // TCP listeners bind with SO_REUSEPORT wherever the runtime can, so that a later instance can take over
  // (--takeover). Unless this one is taking over, first make sure nobody else holds the addresses.
  const tcp = config.listeners.filter((l) => l.protocol === "tcp");
  const udp = config.listeners.filter((l) => l.protocol === "udp");
  if (net.supportsReusePort && !takeover) await ensureFree(net, config.listeners);
  if (config.workers <= 1) return await serveHere(deps, config);
  if (!net.supportsReusePort) {
    // Worker threads cannot share one listening socket: without SO_REUSEPORT (Node before 22.12, macOS,
    // Windows) each would fail to bind, so this thread serves alone.
    log.warn("workers.unsupported", {
      workers: config.workers,
      runtime: `${runtime.name} ${runtime.version}`,
      reason: "this runtime cannot share a listening port (SO_REUSEPORT: Node needs 22.12 or later, Deno the net " +
        "unstable flag); running one listener thread",
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
