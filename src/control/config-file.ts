/**
 * The configuration file on disk: written from the running configuration
 * (after the previous version is kept as a timestamped backup; the last
 * {@linkcode KEEP_BACKUPS} are kept), its backups listed and read, and its
 * directory watched (editors replace files rather than write them in place).
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Clock, HostPort } from "../runtime/types.ts";

/** How many backups are kept. */
export const KEEP_BACKUPS = 10;
/** Changes within this window are one change (editors write in several steps). */
export const DEBOUNCE_MS = 150;

/** A backup as the API lists it. */
export interface BackupInfo {
  readonly name: string;
  /** ISO time of the backup. */
  readonly time: string;
  readonly size: number;
}

/** Splits `path` into its directory and base name. */
function split(path: string): { dir: string; base: string } {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? { dir: ".", base: path } : { dir: path.slice(0, slash) || "/", base: path.slice(slash + 1) };
}

/** One configuration file and its backups. */
export class ConfigFile {
  readonly path: string;
  /** Where backups go: `<dir>/.<base>.backups/`. */
  readonly backupDir: string;
  private readonly host: HostPort;
  private readonly clock: Clock;
  private readonly dir: string;
  private readonly base: string;

  constructor(path: string, deps: { host: HostPort; clock: Clock }) {
    this.path = path;
    this.host = deps.host;
    this.clock = deps.clock;
    ({ dir: this.dir, base: this.base } = split(path));
    this.backupDir = `${this.dir}/.${this.base}.backups`;
  }

  /** The file's text; refuses anything but a regular file (a FIFO would block the read forever). */
  async read(): Promise<string> {
    const kind = await this.host.fileKind(this.path);
    if (kind === undefined) throw new Error("no such file");
    if (kind !== "file") {
      throw new Error(`not a regular file (a ${kind === "directory" ? "directory" : "special file"})`);
    }
    return await this.host.readTextFile(this.path);
  }

  /** The file's text, or undefined when there is none. */
  async readIfAny(): Promise<string | undefined> {
    return (await this.host.fileKind(this.path)) === undefined ? undefined : await this.read();
  }

  /**
   * Keeps the current file as a backup, then replaces it with `text`
   * atomically; returns the backup's name. A symbolic link is written
   * through (its target is replaced), and the file keeps its permissions;
   * backups are readable by the owner only, since they may hold secrets.
   */
  async write(text: string): Promise<string | undefined> {
    const previous = await this.readIfAny();
    const target = await this.host.realPath(this.path);
    const mode = (await this.host.fileMode(target)) ?? 0o600;
    if (previous === undefined) {
      // Nothing to keep: the file was deleted since it was read.
      await this.replace(this.path, text, 0o600);
      return undefined;
    }
    await this.host.makeDir(this.backupDir);
    // Colons are awkward in file names on some systems; the stamp sorts as the time does.
    const stamp = new Date(this.clock.wallNow()).toISOString().replace(/:/g, "-");
    const taken = new Set((await this.backups()).map((b) => b.name));
    let name = `${this.base}.${stamp}`;
    for (let i = 1; taken.has(name) && i < 1000; i++) name = `${this.base}.${stamp}-${i}`;
    await this.host.writeTextFile(`${this.backupDir}/${name}`, previous, 0o600);
    await this.replace(target, text, mode);
    await this.prune();
    return name;
  }

  /** Writes `text` beside `target` and renames it over, so no reader sees half a file. */
  private async replace(target: string, text: string, mode: number): Promise<void> {
    const { dir, base } = split(target);
    const temporary = `${dir}/.${base}.${this.host.pid}.tmp`;
    await this.host.writeTextFile(temporary, text, mode);
    await this.host.renameFile(temporary, target);
  }

  /** Backups, newest first. */
  async backups(): Promise<BackupInfo[]> {
    const files = await this.host.listFiles(this.backupDir);
    return files
      .filter((f) => f.name.startsWith(`${this.base}.`))
      .sort((a, b) => (a.name < b.name ? 1 : -1))
      .map((f) => ({ name: f.name, time: new Date(f.modifiedMs).toISOString(), size: f.size }));
  }

  /** The text of backup `name`; undefined when there is no such backup (names from {@linkcode backups} only). */
  async readBackup(name: string): Promise<string | undefined> {
    const known = (await this.backups()).some((b) => b.name === name);
    return known ? await this.host.readTextFile(`${this.backupDir}/${name}`) : undefined;
  }

  /** Calls `onChange` once per burst of changes to the file; returns a function that stops watching. */
  watch(onChange: () => void, log: Logger): () => void {
    let timer: unknown;
    const fire = () => {
      timer = undefined;
      onChange();
    };
    let stop: () => void;
    try {
      stop = this.host.watchDir(this.dir, (name) => {
        if (name !== "" && name !== this.base) return;
        if (timer !== undefined) this.clock.clearTimeout(timer);
        timer = this.clock.setTimeout(fire, DEBOUNCE_MS);
      });
    } catch (error) {
      log.warn("config.watch_failed", { path: this.path, error: (error as Error).message });
      return () => {};
    }
    return () => {
      if (timer !== undefined) this.clock.clearTimeout(timer);
      stop();
    };
  }

  private async prune(): Promise<void> {
    const all = await this.backups();
    for (const old of all.slice(KEEP_BACKUPS)) await this.host.removeFile(`${this.backupDir}/${old.name}`);
  }
}
