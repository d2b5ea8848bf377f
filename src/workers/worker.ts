/**
 * A listener worker thread: runs every listener of the configuration with
 * SO_REUSEPORT and publishes its counters into its region of the shared buffer.
 *
 * @module
 */
import { connectionsView } from "../admin/views.ts";
import { createLogger } from "../log.ts";
import { Supervisor } from "../proxy/supervisor.ts";
import { selectRuntime } from "../runtime/select.ts";
import { Collector } from "../stats/collector.ts";
import { VERSION } from "../version.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";
import { statsWriter } from "./shared-stats.ts";

/** How often counters are copied to the shared buffer. */
const PUBLISH_EVERY_MS = 250;

const runtime = selectRuntime();
const channel = runtime.workerChannel();
if (!channel) throw new Error("src/workers/worker.ts runs only as a worker thread");
const send = (message: FromWorker) => channel.postMessage(message);

let collector: Collector | undefined;
let supervisor: Supervisor | undefined;
let publish: (() => void) | undefined;
let publisher: unknown;

channel.onMessage(async (raw) => {
  const message = raw as ToWorker;
  if (message.type === "start") {
    const { config } = message;
    const log = createLogger(runtime, config);
    collector = new Collector({ version: VERSION, runtime: runtime.name, runtimeVersion: runtime.version }, runtime.clock, { worker: message.index, workers: config.workers });
    supervisor = new Supervisor({ runtime, log, collector });
    try {
      await supervisor.start(config, { reusePort: true });
    } catch (error) {
      log.flush();
      send({ type: "failed", error: (error as Error).message });
      return;
    }
    publish = statsWriter(config, collector, new Float64Array(message.buffer, message.offset * 8, message.length));
    publisher = runtime.clock.setInterval(publish, PUBLISH_EVERY_MS);
    send({ type: "started", addresses: supervisor.addresses() });
  } else if (message.type === "connections") {
    const connections = connectionsView(collector!.table, message.limit, runtime.clock.now());
    send({ type: "connections", id: message.id, connections });
  } else if (message.type === "shutdown") {
    const result = supervisor ? await supervisor.shutdown(message.drainTimeoutMs) : { drained: 0, aborted: 0 };
    runtime.clock.clearInterval(publisher);
    publish?.();
    send({ type: "stopped", ...result });
    channel.close();
  }
});
