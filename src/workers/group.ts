/**
 * The main thread's side of `workers = N`: N listener threads sharing each
 * port with SO_REUSEPORT, their counters summed into the main collector, their
 * connections gathered on request, and one drain for all on shutdown.
 *
 * @module
 */
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { BoundListener } from "../proxy/listeners.ts";
import type { Runtime, WorkerHandle } from "../runtime/types.ts";
import type { Collector } from "../stats/collector.ts";
import { mergeTables, type SessionFilter, type TableJson } from "../stats/table-view.ts";
import type { StateBook } from "../upstream/state.ts";
import { layoutOf, regionMerger } from "./layout.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

/** The worker thread's module, from the project root (also an entrypoint of `npm run compile`). */
const WORKER_MODULE = "src/workers/worker.ts";

/** Running listener threads. */
export interface WorkerGroup {
  addresses(): BoundListener[];
  connections(limit: number, filter?: SessionFilter): Promise<TableJson>;
  /** Pools live on the worker threads: none here. */
  pool(key: string): undefined;
  /** Tells every worker a backend's health, as checked on the main thread. */
  setHealth(listener: string, backend: string, health: "up" | "down"): void;
  shutdown(drainTimeoutMs: number): Promise<{ drained: number; aborted: number }>;
}

/** One worker thread with request/reply over its messages. */
class WorkerClient {
  readonly index: number;
  private readonly handle: WorkerHandle;
  private waiting = new Map<string, (message: FromWorker) => void>();
  private nextId = 1;
  alive = true;

  constructor(handle: WorkerHandle, index: number, log: Logger) {
    this.handle = handle;
    this.index = index;
    handle.onMessage((raw) => {
      const message = raw as FromWorker;
      const key = message.type === "connections"
        ? `connections:${message.id}`
        : message.type === "failed"
        ? "started"
        : message.type;
      const resolve = this.waiting.get(key);
      this.waiting.delete(key);
      resolve?.(message);
    });
    handle.onError((error) => {
      this.alive = false;
      log.error("worker.failed", { worker: index, error });
      for (const resolve of this.waiting.values()) resolve({ type: "failed", error });
      this.waiting.clear();
    });
  }

  /** Sends `message` and resolves with the reply waited for under `key`. */
  request(message: ToWorker, key: string): Promise<FromWorker> {
    if (!this.alive) return Promise.resolve({ type: "failed", error: "worker is gone" });
    const reply = new Promise<FromWorker>((resolve) => this.waiting.set(key, resolve));
    this.handle.postMessage(message);
    return reply;
  }

  connections(limit: number, filter?: SessionFilter): Promise<FromWorker> {
    const id = this.nextId++;
    return this.request({ type: "connections", id, limit, filter }, `connections:${id}`);
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
function withBoundPorts(config: Config, bound: BoundListener[]): Config {
  return {
    ...config,
    listeners: config.listeners.map((l) => ({ ...l, listen: bound.find((b) => b.key === l.key)?.address ?? l.listen })),
  };
}

/**
 * Starts `config.workers` listener threads. Rejects (with every thread stopped)
 * when one cannot bind.
 */
export async function startWorkerGroup(
  runtime: Runtime,
  config: Config,
  collector: Collector,
  states: StateBook,
  log: Logger,
): Promise<WorkerGroup> {
  // Keys, not ports, identify listeners, so the layout is the same before and after port 0 is resolved.
  const layout = layoutOf(config, 1);
  const { length } = layout;
  const buffer = new SharedArrayBuffer(config.workers * length * 8);
  const clients: WorkerClient[] = [];
  let bound: BoundListener[] = [];

  const start = async (index: number, cfg: Config) => {
    const client = new WorkerClient(runtime.threads.spawn(WORKER_MODULE), index, log);
    clients.push(client);
    const message: ToWorker = {
      type: "start",
      index,
      config: cfg,
      buffer,
      offset: index * length,
      layout: { version: layout.version, length },
    };
    const reply = await client.request(message, "started");
    if (reply.type !== "started") {
      throw new Error(reply.type === "failed" ? reply.error : `worker ${index}: unexpected ${reply.type}`);
    }
    return reply.addresses;
  };

  let resolved = config;
  try {
    bound = await start(0, config);
    resolved = withBoundPorts(config, bound);
    await Promise.all(Array.from({ length: config.workers - 1 }, (_, i) => start(i + 1, resolved)));
  } catch (error) {
    for (const client of clients) client.terminate();
    throw error;
  }
  const regions = clients.map((c) => new Float64Array(buffer, c.index * length * 8, length));
  collector.addSource(regionMerger(layout, collector, states, regions));
  log.info("workers.start", { workers: config.workers });

  return {
    addresses: () => bound,
    pool: () => undefined,
    setHealth(listener, backend, health) {
      for (const client of clients) client.tell({ type: "health", listener, backend, health });
    },
    async connections(limit, filter) {
      const replies = await Promise.all(clients.map((c) => c.connections(limit, filter)));
      return mergeTables(
        replies.flatMap((r) => (r.type === "connections" ? [r.connections] : [])),
        limit,
        filter?.sort,
      );
    },
    async shutdown(drainTimeoutMs) {
      const replies = await Promise.all(clients.map((c) => c.request({ type: "shutdown", drainTimeoutMs }, "stopped")));
      collector.gather();
      for (const client of clients) client.terminate();
      return replies.reduce(
        (
          sum,
          r,
        ) => (r.type === "stopped" ? { drained: sum.drained + r.drained, aborted: sum.aborted + r.aborted } : sum),
        { drained: 0, aborted: 0 },
      );
    },
  };
}
