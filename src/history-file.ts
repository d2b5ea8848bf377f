/**
 * The history snapshot file (`[stats] state_file`): loaded at start, saved
 * every minute and on shutdown, written to a temporary file and renamed over
 * the old one so a crash never leaves half a file. A missing, corrupt or
 * foreign-version file is reported and ignored, never fatal.
 *
 * @module
 */
import type { Logger } from "./log.ts";
import type { Clock, HostPort } from "./runtime/types.ts";
import type { Collector } from "./stats/collector.ts";
import { restoreSnapshot, takeSnapshot } from "./stats/snapshot.ts";

/** How often the history is saved. */
const SAVE_EVERY_MS = 60_000;

/** The running saver; `stop()` saves one last time. */
export interface HistoryFile {
  stop(): Promise<void>;
}

/**
 * Loads the snapshot at `path` into `collector` and starts saving it.
 *
 * @example
 * ```ts
 * const file = await startHistoryFile("/var/lib/sluice/history.json", { host, clock, log, collector });
 * await file.stop(); // on shutdown
 * ```
 */
export async function startHistoryFile(
  path: string,
  deps: { host: HostPort; clock: Clock; log: Logger; collector: Collector },
): Promise<HistoryFile> {
  const { host, clock, log, collector } = deps;
  let text: string | undefined;
  try {
    text = await host.readTextFile(path);
  } catch {
    log.info("stats.snapshot", { file: path, result: "none yet" });
  }
  if (text !== undefined) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      value = undefined;
      log.warn("stats.snapshot", { file: path, result: "ignored", reason: `not JSON: ${(error as Error).message}` });
    }
    if (value !== undefined) {
      const result = restoreSnapshot(collector, value, clock.wallNow());
      if ("error" in result) log.warn("stats.snapshot", { file: path, result: "ignored", reason: result.error });
      else log.info("stats.snapshot", { file: path, result: "loaded", entities: result.restored });
    }
  }
  const save = async () => {
    const tmp = `${path}.tmp`;
    try {
      await host.writeTextFile(tmp, JSON.stringify(takeSnapshot(collector, clock.wallNow())));
      await host.renameFile(tmp, path);
    } catch (error) {
      log.warn("stats.snapshot_failed", { file: path, error: (error as Error).message });
    }
  };
  const timer = clock.setInterval(() => void save(), SAVE_EVERY_MS);
  return {
    async stop() {
      clock.clearInterval(timer);
      await save();
    },
  };
}
