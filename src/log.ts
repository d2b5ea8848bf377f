/**
 * One line per event, as `text` (`time level event key=value...`) or `json`.
 * Lines below `warn` are batched and written within 20 ms, so a burst of
 * connection events costs one write, not one per line, and `tail -f` stays
 * live; `warn` and `error` lines are written at once.
 *
 * @module
 */
import type { LogFormat, LogLevel } from "./config/schema.ts";
import type { Runtime } from "./runtime/types.ts";

/** Values a log line can carry. */
export type LogValue = string | number | boolean | undefined;
/** The key/value pairs of one event. */
export type LogFields = Record<string, LogValue>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const FLUSH_AFTER_MS = 20;
const FLUSH_AT_CHARS = 64 * 1024;

/** What the logger needs from its surroundings. */
export interface LogSink {
  /** Writes finished lines (each ends in a newline). */
  write(text: string): void;
  wallNow(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * A leveled, batched event logger.
 *
 * @example
 * ```ts
 * const log = new Logger({ level: "info", format: "text" }, sink);
 * log.info("listener.start", { listener: "web", address: "0.0.0.0:8080" });
 * log.flush();
 * ```
 */
export class Logger {
  private level: number;
  private format: LogFormat;
  private buffered = "";
  private timer: unknown;
  private lastSecond = -1;
  private secondPrefix = "";
  private readonly sink: LogSink;

  constructor(options: { level: LogLevel; format: LogFormat }, sink: LogSink) {
    this.sink = sink;
    this.level = RANK[options.level];
    this.format = options.format;
  }

  /** Changes level and format (a reload's `[log]`). */
  configure(options: { level: LogLevel; format: LogFormat }): void {
    this.level = RANK[options.level];
    this.format = options.format;
  }

  /** True when events at `level` are written; lets callers skip building fields. */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.level;
  }

  debug(event: string, fields?: LogFields): void {
    if (RANK.debug >= this.level) this.emit("debug", event, fields);
  }
  info(event: string, fields?: LogFields): void {
    if (RANK.info >= this.level) this.emit("info", event, fields);
  }
  warn(event: string, fields?: LogFields): void {
    if (RANK.warn >= this.level) this.emit("warn", event, fields);
  }
  error(event: string, fields?: LogFields): void {
    if (RANK.error >= this.level) this.emit("error", event, fields);
  }

  /** Writes anything still buffered; call before the process exits. */
  flush(): void {
    if (this.timer !== undefined) {
      this.sink.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.buffered === "") return;
    const text = this.buffered;
    this.buffered = "";
    this.sink.write(text);
  }

  /**
   * ISO time of now. toISOString() costs microseconds, so the text up to the
   * second is formatted once a second and only the milliseconds are added.
   */
  private timestamp(): string {
    const ms = this.sink.wallNow();
    const second = Math.floor(ms / 1000);
    if (second !== this.lastSecond) {
      this.lastSecond = second;
      this.secondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    }
    const millis = Math.floor(ms) % 1000;
    return this.secondPrefix + (millis < 10 ? "00" : millis < 100 ? "0" : "") + millis + "Z";
  }

  private emit(level: LogLevel, event: string, fields: LogFields | undefined): void {
    const time = this.timestamp();
    this.buffered += this.format === "json"
      ? jsonLine(time, level, event, fields)
      : textLine(time, level, event, fields);
    // A warning or error may come right before trouble: write it (and what came before it) now.
    if (this.buffered.length >= FLUSH_AT_CHARS || RANK[level] >= RANK.warn) this.flush();
    else {this.timer ??= this.sink.setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, FLUSH_AFTER_MS);}
  }
}

const LEVEL_COLUMN: Record<LogLevel, string> = { debug: "debug", info: "info ", warn: "warn ", error: "error" };
// Control characters (a terminal escape in a user name) are quoted, so JSON.stringify escapes them.
const PLAIN = /^[^\s"=\p{Cc}]+$/u;

function textLine(time: string, level: LogLevel, event: string, fields: LogFields | undefined): string {
  let line = time + " " + LEVEL_COLUMN[level] + " " + event;
  if (fields) {
    for (const key in fields) {
      const value = fields[key];
      if (value === undefined) continue;
      if (typeof value !== "string") line += " " + key + "=" + value;
      else line += " " + key + "=" + (PLAIN.test(value) ? value : JSON.stringify(value));
    }
  }
  return line + "\n";
}

function jsonLine(time: string, level: LogLevel, event: string, fields: LogFields | undefined): string {
  return JSON.stringify({ time, level, event, ...fields }) + "\n";
}

/** Builds the logger the way the config asks, writing to standard error. */
export function createLogger(runtime: Runtime, config: { log: { level: LogLevel; format: LogFormat } }): Logger {
  const { clock } = runtime;
  return new Logger(config.log, {
    write: (text) => runtime.host.writeErr(text),
    wallNow: () => clock.wallNow(),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (handle) => clock.clearTimeout(handle),
  });
}
