/**
 * A listener worker thread: runs every listener of the configuration with
 * SO_REUSEPORT and publishes its numbers into its region of the shared buffer.
 *
 * @module
 */
import type { Config } from "../config/schema.ts";
import { createLogger, type Logger } from "../log.ts";
import { Exhaustion } from "../proxy/exhaustion.ts";
import { Listeners } from "../proxy/listeners.ts";
import { Sessions } from "../proxy/sessions.ts";
import { selectRuntime } from "../runtime/select.ts";
import { Collector } from "../stats/collector.ts";
import { tableJson } from "../stats/table-view.ts";
import { StateBook } from "../upstream/state.ts";
import { VERSION } from "../version.ts";
import { layoutOf, regionWriter } from "./layout.ts";
import type { FromWorker, RegionSpec, ToWorker } from "./protocol.ts";

/** How often numbers are copied to the shared buffer. */
const PUBLISH_EVERY_MS = 250;

const runtime = selectRuntime();
const found = runtime.threads.channel();
if (!found) throw new Error("src/workers/worker.ts runs only as a worker thread");
const channel = found;
const send = (message: FromWorker) => channel.postMessage(message);

/** What a started worker holds. */
interface Running {
  readonly collector: Collector;
  readonly sessions: Sessions;
  readonly listeners: Listeners;
  readonly states: StateBook;
  readonly log: Logger;
  /** Copies numbers to the current region; replaced when a reload changes the layout. */
  write: () => void;
  readonly publisher: unknown;
}

let running: Running | undefined;

/** A writer for `config`'s layout into the region `spec` names. */
function writerFor(config: Config, spec: RegionSpec, collector: Collector, states: StateBook): () => void {
  const layout = layoutOf(config, spec.layout.version);
  if (layout.length !== spec.layout.length) throw new Error("worker and main thread disagree on the layout");
  const region = new Float64Array(spec.buffer, spec.offset * 8, layout.length);
  return regionWriter(layout, collector, states, region);
}

async function start(message: Extract<ToWorker, { type: "start" }>): Promise<void> {
  const { config, id } = message;
  const { clock } = runtime;
  const log = createLogger(runtime, config);
  const info = { version: VERSION, runtime: runtime.name, runtimeVersion: runtime.version };
  const collector = new Collector(info, clock, { history: false });
  const sessions = new Sessions(collector.total, collector.recent, {
    worker: message.index,
    workers: message.idSpace,
  });
  collector.addSource(() => sessions.foldAll());
  const states = new StateBook(() => clock.now());
  const exhaustion = new Exhaustion(log, collector.total);
  const listeners = new Listeners({
    net: runtime.net,
    clock,
    log,
    collector,
    states,
    sessions,
    exhaustion,
    reusePort: true,
    reusePortUdp: true,
    anonymize: config.anonymizeIps,
  });
  try {
    await listeners.start(config);
  } catch (error) {
    log.flush();
    return send({ type: "failed", id, error: (error as Error).message });
  }
  const write = writerFor(config, message.region, collector, states);
  const publisher = clock.setInterval(() => publish(), PUBLISH_EVERY_MS);
  running = { collector, sessions, listeners, states, log, write, publisher };
  send({ type: "started", id, addresses: listeners.addresses() });
}

function publish(): void {
  if (!running) return;
  running.collector.gather();
  running.write();
  running.collector.forgetRetired();
}

/** Runs `work` and answers `id` with `done`, or with `failed` and the error. */
async function answer(id: number, work: () => Promise<FromWorker | void>): Promise<void> {
  try {
    send((await work()) ?? { type: "done", id });
  } catch (error) {
    send({ type: "failed", id, error: (error as Error).message });
  }
}

/** Messages are handled one at a time, in order: an `abandon` must not overtake the `prepare` before it. */
let queue: Promise<void> = Promise.resolve();
channel.onMessage((raw) => {
  const message = raw as ToWorker;
  queue = queue.then(() => handle(message), () => handle(message));
});

async function handle(message: ToWorker): Promise<void> {
  if (message.type === "start") return await start(message);
  const r = running;
  if (!r) {
    if ("id" in message) send({ type: "failed", id: message.id, error: "worker did not start" });
    return;
  }
  switch (message.type) {
    case "health": {
      // Checks run on the main thread; every thread's pools honour the result.
      const state = r.states.find(message.listener, message.backend);
      if (state) state.health = message.health;
      return;
    }
    case "admin": {
      const state = r.states.find(message.listener, message.backend);
      if (state) state.admin = message.admin;
      return;
    }
    case "connections": {
      const now = runtime.clock.now();
      const connections = tableJson(
        r.sessions.list(),
        r.collector.recent.list(now),
        message.limit,
        now,
        message.filter,
      );
      return send({ type: "connections", id: message.id, connections });
    }
    case "top":
      // Cut on this thread's clock: each worker's monotonic clock has its own origin.
      return send({ type: "top", id: message.id, top: r.sessions.top.snapshot(runtime.clock.now()) });
    case "close":
      return send({ type: "closed", id: message.id, found: r.sessions.abortById(message.session, "admin") });
    case "prepare":
      return await answer(message.id, async () => ({
        type: "prepared",
        id: message.id,
        addresses: await r.listeners.prepare(message.plan),
      }));
    case "abandon":
      return await answer(message.id, () => r.listeners.abandon());
    case "commit":
      return await answer(message.id, async () => {
        await r.listeners.commit(message.plan);
        r.log.configure(message.config.log);
        r.write = writerFor(message.config, message.region, r.collector, r.states);
        publish();
      });
    case "shutdown": {
      const result = await r.listeners.shutdown(message.drainTimeoutMs);
      runtime.clock.clearInterval(r.publisher);
      publish();
      send({ type: "stopped", id: message.id, ...result });
      channel.close();
    }
  }
}
