/**
 * A listener worker thread: runs every listener of the configuration with
 * SO_REUSEPORT and publishes its numbers into its region of the shared buffer.
 *
 * @module
 */
import { createLogger } from "../log.ts";
import { Exhaustion } from "../proxy/exhaustion.ts";
import { Listeners } from "../proxy/listeners.ts";
import { Sessions } from "../proxy/sessions.ts";
import { selectRuntime } from "../runtime/select.ts";
import { Collector } from "../stats/collector.ts";
import { tableJson } from "../stats/table-view.ts";
import { StateBook } from "../upstream/state.ts";
import { VERSION } from "../version.ts";
import { layoutOf, regionWriter } from "./layout.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

/** How often numbers are copied to the shared buffer. */
const PUBLISH_EVERY_MS = 250;

const runtime = selectRuntime();
const channel = runtime.threads.channel();
if (!channel) throw new Error("src/workers/worker.ts runs only as a worker thread");
const send = (message: FromWorker) => channel.postMessage(message);

let collector: Collector | undefined;
let sessions: Sessions | undefined;
let listeners: Listeners | undefined;
let publish: (() => void) | undefined;
let publisher: unknown;
let states: StateBook | undefined;

channel.onMessage(async (raw) => {
  const message = raw as ToWorker;
  if (message.type === "start") {
    const { config } = message;
    const { clock } = runtime;
    const log = createLogger(runtime, config);
    const info = { version: VERSION, runtime: runtime.name, runtimeVersion: runtime.version };
    collector = new Collector(info, clock, { history: false });
    sessions = new Sessions(collector.total, collector.recent, { worker: message.index, workers: config.workers });
    collector.addSource(() => sessions!.foldAll());
    states = new StateBook();
    const exhaustion = new Exhaustion(log, collector.total);
    listeners = new Listeners({
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
      send({ type: "failed", error: (error as Error).message });
      return;
    }
    const layout = layoutOf(config, message.layout.version);
    if (layout.length !== message.layout.length) throw new Error("worker and main thread disagree on the layout");
    const region = new Float64Array(message.buffer, message.offset * 8, layout.length);
    const write = regionWriter(layout, collector, states, region);
    publish = () => {
      collector!.gather();
      write();
    };
    publisher = clock.setInterval(publish, PUBLISH_EVERY_MS);
    send({ type: "started", addresses: listeners.addresses() });
  } else if (message.type === "health") {
    // Checks run on the main thread; every thread's pools honour the result.
    const state = states?.find(message.listener, message.backend);
    if (state) state.health = message.health;
  } else if (message.type === "connections") {
    const now = runtime.clock.now();
    const connections = tableJson(sessions!.list(), collector!.recent.list(now), message.limit, now, message.filter);
    send({ type: "connections", id: message.id, connections });
  } else if (message.type === "shutdown") {
    const result = listeners ? await listeners.shutdown(message.drainTimeoutMs) : { drained: 0, aborted: 0 };
    runtime.clock.clearInterval(publisher);
    publish?.();
    send({ type: "stopped", ...result });
    channel.close();
  }
});
