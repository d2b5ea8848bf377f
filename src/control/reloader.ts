/**
 * Every change of the running configuration goes through here, one at a
 * time: a changed file, `SIGHUP`, and the admin API (a whole new document,
 * an edit, a reload, a restore). A new document is validated, diffed and
 * applied (new listeners bind first); anything that fails changes nothing,
 * and the outcome is logged, counted and kept for the API and the page.
 *
 * @module
 */
import { stringify } from "smol-toml";
import { formatIssue, parseTomlDocument } from "../config/load.ts";
import type { Plan } from "../config/diff.ts";
import type { Config, ConfigIssue } from "../config/schema.ts";
import { type Document, loadDocument, type Overrides } from "../config/sources.ts";
import type { Logger } from "../log.ts";
import type { Clock } from "../runtime/types.ts";
import type { ConfigFile } from "./config-file.ts";
import type { EditResult } from "./edits.ts";

/** Thrown by `apply` when some of a configuration was applied and some was not. */
export class PartlyApplied extends Error {}

/** What started a reload. */
export type ReloadSource = "file" | "signal" | "api" | "restore";

/** The outcome of one reload, as the API answers it and the page shows it. */
export interface ReloadOutcome {
  readonly ok: boolean;
  /** HTTP status for the API: 200, 400 (invalid), 404, 409 (cannot bind, no file), 500. */
  readonly status: number;
  readonly source: ReloadSource;
  /** Wall-clock ISO time. */
  readonly at: string;
  readonly error?: string;
  /** Validation problems, each with its key path. */
  readonly issues?: readonly ConfigIssue[];
  /** What changed, by listener key. */
  readonly changes?: {
    readonly added: readonly string[];
    readonly removed: readonly string[];
    readonly updated: readonly string[];
    /** Settings that changed in the file but take effect only after a restart. */
    readonly restart_needed: readonly string[];
  };
  /** True when the file now says what runs. */
  readonly persisted?: boolean;
  /** The backup the previous file was saved as. */
  readonly backup?: string;
  readonly note?: string;
}

/** What the reloader needs. */
export interface ReloaderDeps {
  /** Applies a validated configuration; throws (having changed nothing) when a new listener cannot bind. */
  apply(config: Config): Promise<Plan>;
  /** The running configuration: kept where it is applied, not here as well. */
  current(): Config;
  readonly log: Logger;
  readonly clock: Clock;
  /** The configuration file, when started from one. */
  readonly file?: ConfigFile;
  /** Command-line settings that win over the file, on every reload too. */
  readonly overrides?: Overrides;
  /** This machine's addresses, for the self-loop check: asked at each reload, since interfaces come and go. */
  readonly localHosts?: () => readonly string[];
}

/** Counts by result, for `sluice_config_reloads_total`. */
export interface ReloadCounts {
  success: number;
  error: number;
  /** Wall-clock ms of the last successful reload. */
  lastSuccessWall: number | undefined;
  /** Whether the last reload succeeded (true before any). */
  lastOk: boolean;
}

/** The single writer of the running configuration. */
export class Reloader {
  private readonly deps: ReloaderDeps;
  /** The running document (before overrides): what edits start from and what is written to the file. */
  private running: Document | undefined;
  /** The file's text as last read or written, so a watch event for our own write is not a reload. */
  private fileText: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** The last reload's outcome. */
  last: ReloadOutcome | undefined;
  readonly counts: ReloadCounts = { success: 0, error: 0, lastSuccessWall: undefined, lastOk: true };

  constructor(deps: ReloaderDeps, running: { document?: Document; fileText?: string }) {
    this.deps = deps;
    this.running = running.document;
    this.fileText = running.fileText;
  }

  /** The running configuration. */
  get current(): Config {
    return this.deps.current();
  }

  /** The running document (secrets included: redact before showing it). */
  get document(): Document | undefined {
    return this.running;
  }

  /** The running document as TOML. */
  toml(document: Document): string {
    return stringify(document);
  }

  /** Re-reads the file. `onlyIfChanged` (file watch): nothing happens when its text is what runs. */
  reloadFile(source: ReloadSource, onlyIfChanged = false): Promise<ReloadOutcome | undefined> {
    return this.serial(async () => {
      const file = this.deps.file;
      if (!file) return this.fail(source, 409, "started without a configuration file; nothing to re-read");
      let text: string;
      try {
        text = await file.read();
      } catch (error) {
        return this.fail(source, 409, `cannot read ${file.path}: ${(error as Error).message}`);
      }
      if (onlyIfChanged && text === this.fileText) return undefined;
      this.fileText = text;
      return await this.applyText(text, source, { persisted: true });
    });
  }

  /** Validates and applies `document`; with `persist`, writes it to the file (keeping a backup) once it runs. */
  applyDocument(document: Document, source: ReloadSource, persist: boolean): Promise<ReloadOutcome> {
    return this.serial(() => this.applyNow(document, source, persist));
  }

  /** Applies an edit of the running document (see `edits.ts`). */
  edit(make: (document: Document, config: Config) => EditResult, persist: boolean): Promise<ReloadOutcome> {
    return this.serial(async () => {
      if (!this.running) return this.fail("api", 409, "started without a configuration document");
      const edited = make(this.running, this.current);
      if (!edited.ok) return { ok: false, status: edited.status, source: "api", at: this.now(), error: edited.error };
      return await this.applyNow(edited.document, "api", persist);
    });
  }

  /** Validates, applies and persists backup `name`. */
  restore(name: string): Promise<ReloadOutcome> {
    return this.serial(async () => {
      const file = this.deps.file;
      if (!file) return this.fail("restore", 409, "started without a configuration file; there are no backups");
      const text = await file.readBackup(name);
      if (text === undefined) {
        return {
          ok: false,
          status: 404,
          source: "restore",
          at: this.now(),
          error: `no backup ${JSON.stringify(name)}`,
        };
      }
      return await this.applyText(text, "restore", { persist: true });
    });
  }

  private async applyText(
    text: string,
    source: ReloadSource,
    how: { persisted?: boolean; persist?: boolean },
  ): Promise<ReloadOutcome> {
    const parsed = parseTomlDocument(text);
    if (!parsed.ok) return this.invalid(source, parsed.issues);
    return await this.applyNow(parsed.document, source, how.persist === true, text, how.persisted === true);
  }

  /**
   * `text`: the document as written, kept (comments and all) when it is persisted. `fromFile`: it was read from the
   * file, so what runs is what the file says, as when it is persisted.
   */
  private async applyNow(
    document: Document,
    source: ReloadSource,
    persist: boolean,
    text?: string,
    fromFile = false,
  ): Promise<ReloadOutcome> {
    const { log, file } = this.deps;
    if (persist && !file) return this.fail(source, 409, "started without a configuration file; cannot persist");
    if (persist && text === undefined) {
      // The file was edited since it was last read: writing now would silently throw that edit away.
      const now = await file!.readIfAny().catch(() => undefined);
      if (now !== undefined && this.fileText !== undefined && now !== this.fileText) {
        return this.fail(source, 409, `${file!.path} changed since it was last read; reload it first, then change it`);
      }
    }
    const origin = file?.path ?? "document";
    const loaded = loadDocument(document, this.deps.overrides ?? {}, { localHosts: this.deps.localHosts?.() }, origin);
    if (!loaded.ok) return this.invalid(source, loaded.issues);
    for (const warning of loaded.warnings) log.warn("config.warning", { message: formatIssue(origin, warning) });
    let plan: Plan;
    try {
      plan = await this.deps.apply(loaded.config);
    } catch (error) {
      if (!(error instanceof PartlyApplied)) return this.fail(source, 409, (error as Error).message);
      // Some threads run the new configuration: it is what runs now, and the answer says what went wrong.
      this.running = document;
      return this.fail(source, 500, `partly applied: ${error.message}; a restart is the safe way out`);
    }
    this.running = document;
    let backup: string | undefined;
    if (persist) {
      try {
        const written = text ?? this.toml(document);
        backup = await file!.write(written);
        this.fileText = written;
      } catch (error) {
        // It runs, but the file still says the old: say so rather than pretend.
        return this.count({
          ok: false,
          status: 500,
          source,
          at: this.now(),
          error: `applied, but writing ${file!.path} failed: ${(error as Error).message}`,
          changes: changesOf(plan),
          persisted: false,
        });
      }
    }
    const changes = changesOf(plan);
    const inFile = persist || fromFile;
    log.info("config.reload", {
      source,
      result: "ok",
      added: changes.added.length,
      removed: changes.removed.length,
      updated: changes.updated.length,
      persisted: inFile,
    });
    if (changes.restart_needed.length) {
      log.warn("config.restart_needed", { settings: changes.restart_needed.join(",") });
    }
    return this.count({
      ok: true,
      status: 200,
      source,
      at: this.now(),
      changes,
      persisted: inFile,
      ...(backup ? { backup } : {}),
      ...(inFile ? {} : {
        note: file
          ? `not written to ${file.path}: a reload from the file undoes this change (send persist=true to keep it)`
          : "kept in memory only: started without a configuration file, so a restart undoes this change",
      }),
    });
  }

  private invalid(source: ReloadSource, issues: readonly ConfigIssue[]): ReloadOutcome {
    const error = `invalid configuration: ${
      issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")
    }`;
    return this.count({ ok: false, status: 400, source, at: this.now(), error, issues });
  }

  private fail(source: ReloadSource, status: number, error: string): ReloadOutcome {
    return this.count({ ok: false, status, source, at: this.now(), error });
  }

  private count(outcome: ReloadOutcome): ReloadOutcome {
    this.last = outcome;
    this.counts.lastOk = outcome.ok;
    if (outcome.ok) {
      this.counts.success++;
      this.counts.lastSuccessWall = this.deps.clock.wallNow();
    } else {
      this.counts.error++;
      this.deps.log.error("config.reload", { source: outcome.source, result: "error", error: outcome.error });
    }
    return outcome;
  }

  private now(): string {
    return new Date(this.deps.clock.wallNow()).toISOString();
  }

  /**
   * Runs `work` after every earlier change has finished, and before any
   * later one starts; after {@linkcode close}, answers 503 instead.
   */
  exclusive<T>(work: () => Promise<T>, refused: () => T): Promise<T> {
    const run = () => (this.closed ? Promise.resolve(refused()) : work());
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }

  /** Refuses every later change and resolves once the one running (if any) is done: shutdown. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }

  /** Counts and keeps a document that could not even be parsed (a bad body of the API). */
  reject(source: ReloadSource, issues: readonly ConfigIssue[]): ReloadOutcome {
    return this.invalid(source, issues);
  }

  private serial(work: () => Promise<ReloadOutcome>): Promise<ReloadOutcome>;
  private serial(work: () => Promise<ReloadOutcome | undefined>): Promise<ReloadOutcome | undefined>;
  private serial(work: () => Promise<ReloadOutcome | undefined>): Promise<ReloadOutcome | undefined> {
    return this.exclusive(work, () => ({
      ok: false,
      status: 503,
      source: "api" as const,
      at: this.now(),
      error: "shutting down; the configuration no longer changes",
    }));
  }
}

function changesOf(plan: Plan): NonNullable<ReloadOutcome["changes"]> {
  return {
    added: plan.add.map((l) => l.key),
    removed: [...plan.remove],
    updated: plan.update.map((u) => u.key),
    restart_needed: [...plan.restart],
  };
}
