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
 * The running Sluice that the pid file names, or undefined (with a warning)
 * when there is none: no file, no such process, or a process that is not
 * Sluice (a stale pid reused by something else must never get our SIGTERM).
 * Without a predecessor there is nothing to take over, and the normal
 * address-in-use check applies.
 */
export async function findPredecessor(host: HostPort, log: Logger, path: string): Promise<number | undefined> {
  const pid = await readPid(host, path);
  let reason: string | undefined;
  if (pid === undefined) reason = "no pid in the pid file";
  else if (pid === host.pid) reason = "the pid file names this process";
  else {
    const command = await host.readTextFile(`/proc/${pid}/cmdline`).catch(() => undefined);
    if (command === undefined) reason = "no such process";
    else if (!/sluice|mod\.ts/i.test(command)) reason = "that process is not Sluice";
  }
  if (reason === undefined) return pid;
  log.warn("takeover.alone", { pid, reason });
  return undefined;
}

/** Tells the instance being taken over to drain and exit, once this one is serving. */
export function signalPredecessor(host: HostPort, log: Logger, pid: number): void {
  const delivered = host.kill(pid, "SIGTERM");
  if (delivered) log.info("takeover.signalled", { pid });
  else log.warn("takeover.alone", { pid, reason: "it exited before the signal" });
}
