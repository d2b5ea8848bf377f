/** A logger for end-to-end tests: JSON lines kept in memory on the real clock, read back by event. */
import { Logger } from "../../src/log.ts";

/** Collects log lines (JSON format, debug and up) so tests can read events. */
export function memoryLog() {
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({ level: "debug", format: "json" }, {
    write: (text) => text.trimEnd().split("\n").forEach((l) => lines.push(JSON.parse(l))),
    wallNow: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as number),
  });
  return { log, lines, events: (event: string) => (log.flush(), lines.filter((l) => l.event === event)) };
}
