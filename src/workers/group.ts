/**
 * The main thread's side of `workers = N`: N listener threads sharing each
 * port with SO_REUSEPORT, their counters summed into the main collector, their
 * connections gathered on request, reloads applied on every thread in two
 * phases (all bind, then all commit), and one drain for all on shutdown.
 *
 * @module
 */
import type { ListenerUpdate, Plan } from "../config/diff.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { BoundListener } from "../proxy/listeners.ts";
import type { Runtime, WorkerHandle } from "../runtime/types.ts";
import type { TopSnapshot } from "../stats/client-top.ts";
import type { Collector } from "../stats/collector.ts";
import { mergeTables, type SessionFilter, type TableJson } from "../stats/table-view.ts";
import type { AdminState, Health, StateBook } from "../upstream/state.ts";
import { type Layout, layoutOf, regionMerger } from "./layout.ts";
import type { FromWorker, RegionSpec, ToWorker } from "./protocol.ts";

/** The worker thread's module, from the project root (also an entrypoint of `npm run compile`). */
const WORKER_MODULE = "src/workers/worker.ts";

/** Running listener threads. */
export interface WorkerGroup {
  addresses(): BoundListener[];
  connections(limit: number, filter?: SessionFilter): Promise<TableJson>;
  /** Pools live on the worker threads: none here. */
  pool(key: string): undefined;
  /** Tells every worker a backend's health, as checked on the main thread. */
  setHealth(listener: string, backend: string, health: Health): void;
  /** Tells every worker what an operator asked of a backend. */
  setAdmin(listener: string, backend: string, admin: AdminState): void;
  /** Every thread's top clients. */
  top(): Promise<TopSnapshot[]>;
  /** Aborts the live session `id` on whichever thread runs it; false when none does. */
  closeConnection(id: number): Promise<boolean>;
  /** Binds a reload's new listeners on every thread; on failure none stays bound. */
  prepare(plan: Plan, config: Config): Promise<void>;
  /** Applies the prepared reload on every thread. */
  commit(): Promise<void>;
  /** Closes what {@linkcode prepare} bound. */
  abandon(): Promise<void>;
  shutdown(drainTimeoutMs: number): Promise<{ drained: number; aborted: number }>;
}

/** Any message to a worker, without the `id` a request gets. */
type Request = ToWorker extends infer M ? M extends { id: number } ? Omit<M, "id"> : never : never;

/** One worker thread with request/reply over its messages. */
class WorkerClient {
  readonly index: number;
  private readonly handle: WorkerHandle;
  private waiting = new Map<number, (message: FromWorker) => void>();
  private nextId = 1;
  alive = true;

  constructor(handle: WorkerHandle, index: number, log: Logger) {
    this.handle = handle;
    this.index = index;
    handle.onMessage((raw) => {
      const message = raw as FromWorker;
      const resolve = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      resolve?.(message);
    });
    handle.onError((error) => {
      this.alive = false;
      log.error("worker.failed", { worker: index, error });
      for (const [id, resolve] of this.waiting) resolve({ type: "failed", id, error });
      this.waiting.clear();
    });
  }

  /** Sends `message` and resolves with its answer. */
  request(message: Request): Promise<FromWorker> {
    const id = this.nextId++;
    if (!this.alive) return Promise.resolve({ type: "failed", id, error: "worker is gone" });
    const reply = new Promise<FromWorker>((resolve) => this.waiting.set(id, resolve));
    this.handle.postMessage({ ...message, id } as ToWorker);
    return reply;
  }

  /** Sends `message` and resolves with its answer, or rejects with the worker's error. */
  async expect<T extends FromWorker["type"]>(message: Request, type: T): Promise<Extract<FromWorker, { type: T }>> {
    const reply = await this.request(message);
    if (reply.type === type) return reply as Extract<FromWorker, { type: T }>;
    throw new Error(reply.type === "failed" ? reply.error : `worker ${this.index}: unexpected ${reply.type}`);
  }

  /** Sends a message that needs no reply. */
  tell(message: ToWorker): void {
    if (this.alive) this.handle.postMessage(message);
  }

  terminate(): void {
    this.alive = false;
    this.handle.terminate();
  }
}

/** Replaces port 0 with the port the first worker was given, so the others share it. */
function withBoundPorts<T extends { key: string; listen: BoundListener["address"] }>(
  listeners: readonly T[],
  bound: readonly BoundListener[],
): T[] {
  return listeners.map((l) => ({ ...l, listen: bound.find((b) => b.key === l.key)?.address ?? l.listen }));
}

/** The shared numbers of one layout version. */
interface Regions {
  readonly layout: Layout;
  readonly buffer: SharedArrayBuffer;
  readonly merge: () => void;
}

/**
 * Starts `config.workers` listener threads. Rejects (with every thread stopped)
 * when one cannot bind. `idSpace` (at least `config.workers`) spreads session
 * ids so that no two threads, this one included, number two sessions alike.
 */
export async function startWorkerGroup(
  runtime: Runtime,
  config: Config,
  deps: { collector: Collector; states: StateBook; log: Logger; idSpace?: number },
): Promise<WorkerGroup> {
  const { collector, states, log } = deps;
  const clients: WorkerClient[] = [];
  let bound: BoundListener[] = [];

  const regionsFor = (cfg: Config, version: number): Regions => {
    // Keys, not ports, identify listeners, so the layout is the same before and after port 0 is resolved.
    const layout = layoutOf(cfg, version);
    const buffer = new SharedArrayBuffer(config.workers * layout.length * 8);
    const views = Array.from(
      { length: config.workers },
      (_, i) => new Float64Array(buffer, i * layout.length * 8, layout.length),
    );
    return { layout, buffer, merge: regionMerger(layout, collector, states, views) };
  };
  const spec = (regions: Regions, index: number): RegionSpec => ({
    buffer: regions.buffer,
    offset: index * regions.layout.length,
    layout: { version: regions.layout.version, length: regions.layout.length },
  });

  let current = regionsFor(config, 1);
  const start = async (index: number, cfg: Config) => {
    const client = new WorkerClient(runtime.threads.spawn(WORKER_MODULE), index, log);
    clients.push(client);
    const idSpace = deps.idSpace ?? config.workers;
    const reply = await client.expect(
      { type: "start", index, config: cfg, region: spec(current, index), idSpace },
      "started",
    );
    return reply.addresses;
  };

  let running = config;
  try {
    bound = await start(0, config);
    running = { ...config, listeners: withBoundPorts(config.listeners, bound) };
    await Promise.all(Array.from({ length: config.workers - 1 }, (_, i) => start(i + 1, running)));
  } catch (error) {
    for (const client of clients) client.terminate();
    throw error;
  }
  collector.addSource(() => current.merge());
  log.info("workers.start", { workers: config.workers });

  /** The reload between prepare and commit. */
  let prepared: { plan: Plan; config: Config; added: BoundListener[] } | undefined;

  /** Main-side copies of what a reload removed: nothing merges into them any more. */
  const retire = (plan: Plan) => {
    const gone = (key: string, backend?: string) => {
      const listener = collector.listeners().find((l) => l.key === key);
      if (!listener) return;
      for (const b of collector.backends(key)) {
        if (backend !== undefined && b.key !== backend) continue;
        b.active = 0;
        collector.retire(b);
        states.forget(key, b.key);
      }
      if (backend === undefined) {
        listener.active = 0;
        collector.retire(listener);
      }
    };
    for (const key of plan.remove) gone(key);
    for (const change of plan.update as ListenerUpdate[]) for (const b of change.pool.removed) gone(change.key, b);
  };

  const abandon = async () => {
    prepared = undefined;
    await Promise.all(clients.map((c) => c.request({ type: "abandon" })));
  };

  return {
    addresses: () => bound,
    pool: () => undefined,
    setHealth(listener, backend, health) {
      for (const client of clients) client.tell({ type: "health", listener, backend, health });
    },
    setAdmin(listener, backend, admin) {
      for (const client of clients) client.tell({ type: "admin", listener, backend, admin });
    },
    async top() {
      const replies = await Promise.all(clients.map((c) => c.request({ type: "top" })));
      return replies.flatMap((r) => (r.type === "top" ? [r.top] : []));
    },
    async closeConnection(session) {
      const replies = await Promise.all(clients.map((c) => c.request({ type: "close", session })));
      return replies.some((r) => r.type === "closed" && r.found);
    },
    async connections(limit, filter) {
      const replies = await Promise.all(clients.map((c) => c.request({ type: "connections", limit, filter })));
      return mergeTables(
        replies.flatMap((r) => (r.type === "connections" ? [r.connections] : [])),
        limit,
        filter?.sort,
      );
    },
    async prepare(plan, next) {
      await abandon();
      // The first thread resolves port 0; the others bind the port it was given.
      const first = await clients[0].request({ type: "prepare", plan });
      if (first.type !== "prepared") {
        await abandon();
        throw new Error(first.type === "failed" ? first.error : `worker 0: unexpected ${first.type}`);
      }
      const resolved = { ...plan, add: withBoundPorts(plan.add, first.addresses) };
      // Every thread answers before any is told to abandon, so none binds after it was told.
      const rest = await Promise.all(clients.slice(1).map((c) => c.request({ type: "prepare", plan: resolved })));
      const failed = rest.find((r) => r.type !== "prepared");
      if (failed) {
        await abandon();
        throw new Error(failed.type === "failed" ? failed.error : `unexpected ${failed.type}`);
      }
      prepared = { plan: resolved, config: next, added: first.addresses };
    },
    abandon,
    async commit() {
      if (!prepared) throw new Error("nothing prepared");
      const { plan, added, config: next } = prepared;
      prepared = undefined;
      const removed = new Set(plan.remove);
      running = { ...next, listeners: runningWith(running, plan) };
      const regions = regionsFor(running, current.layout.version + 1);
      const replies = await Promise.all(
        clients.map((c) => c.request({ type: "commit", plan, config: running, region: spec(regions, c.index) })),
      );
      current = regions;
      retire(plan);
      const names = new Map(running.listeners.map((l) => [l.key, l.name]));
      bound = [...bound.filter((b) => !removed.has(b.key)), ...added].map((b) => ({
        ...b,
        name: names.get(b.key) ?? b.name,
      }));
      const failed = replies.flatMap((
        r,
        i,
      ) => (r.type === "done" ? [] : [`worker ${i}: ${r.type === "failed" ? r.error : r.type}`]));
      if (failed.length) throw new Error(failed.join("; "));
    },
    async shutdown(drainTimeoutMs) {
      const replies = await Promise.all(clients.map((c) => c.request({ type: "shutdown", drainTimeoutMs })));
      collector.gather();
      for (const client of clients) client.terminate();
      return replies.reduce(
        (sum, r) => r.type === "stopped" ? { drained: sum.drained + r.drained, aborted: sum.aborted + r.aborted } : sum,
        { drained: 0, aborted: 0 },
      );
    },
  };
}

/** The running listeners after `plan`, bound ports kept. */
function runningWith(before: Config, plan: Plan): Config["listeners"] {
  const removed = new Set(plan.remove);
  const updates = new Map(plan.update.map((u) => [u.key, u.config]));
  const listeners = before.listeners.filter((l) => !removed.has(l.key)).map((l) => {
    const next = updates.get(l.key);
    return next ? { ...next, listen: l.listen } : l;
  });
  return [...listeners, ...plan.add];
}
