/**
 * The pid file, and taking over from the instance it names: the new
 * instance binds beside the old one (SO_REUSEPORT), then sends it SIGTERM so
 * it stops accepting and drains. No connection is refused in between, since
 * one of the two is always accepting.
 *
 * @module
 */
import type { Logger } from "./log.ts";
import type { HostPort } from "./runtime/types.ts";

/** The pid written in `path`, or undefined when there is none to read. */
export async function readPid(host: HostPort, path: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await host.readTextFile(path);
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/** Writes this process's pid to `path`. */
export function writePid(host: HostPort, path: string): Promise<void> {
  return host.writeTextFile(path, `${host.pid}\n`);
}

/** Removes `path` if it still names this process (a successor may have written its own pid there). */
export async function removePid(host: HostPort, path: string): Promise<void> {
  if ((await readPid(host, path)) === host.pid) await host.removeFile(path);
}

/**
 * Tells the instance named in the old pid file to drain and exit, once this
 * one is serving; logs what happened.
 */
export function signalPredecessor(host: HostPort, log: Logger, pid: number | undefined): void {
  if (pid === undefined || pid === host.pid) {
    log.warn("takeover.alone", { reason: "no running instance named in the pid file" });
    return;
  }
  const delivered = host.kill(pid, "SIGTERM");
  if (delivered) log.info("takeover.signalled", { pid });
  else log.warn("takeover.alone", { pid, reason: "no such process" });
}
