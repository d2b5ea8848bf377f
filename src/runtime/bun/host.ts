/**
 * The Bun {@linkcode HostPort}: Bun's `process`, and `Bun.file` for reading.
 *
 * @module
 */
import { rename, rm } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { interfaceAddresses, listedOrNone } from "../_address.ts";
import { fileKind, fileMode, listFiles, makeDir, readStdin, realPath, watchDir, writeTextFile } from "../_files.ts";
import { signalProcess } from "../_errors.ts";
import type { HostPort, SignalName } from "../types.ts";
import { bun } from "./api.ts";

interface NodeishProcess {
  pid: number;
  kill(pid: number, signal: string): void;
  argv: string[];
  env: Record<string, string | undefined>;
  on(signal: string, handler: () => void): void;
  off(signal: string, handler: () => void): void;
  stdin: AsyncIterable<unknown>;
  stdout: { write(text: string): boolean };
  stderr: { write(text: string): boolean };
  exit(code: number): never;
}

/** The process as Bun shows it; call only under Bun. */
export function createBunHost(): HostPort {
  const proc = (globalThis as unknown as { process: NodeishProcess }).process;
  return {
    args: proc.argv.slice(2),
    env: (name) => proc.env[name],
    readTextFile: (path) => bun().file(path).text(),
    writeTextFile,
    fileMode,
    fileKind,
    realPath,
    renameFile: (from, to) => rename(from, to),
    removeFile: (path) => rm(path, { force: true }),
    listFiles,
    makeDir,
    watchDir,
    readStdin: () => readStdin(proc.stdin),
    pid: proc.pid,
    kill: (pid, signal) => signalProcess((p, s) => proc.kill(p, s), pid, signal),
    localAddresses: () => listedOrNone(() => interfaceAddresses(networkInterfaces())),
    onSignal(signal: SignalName, handler: () => void) {
      proc.on(signal, handler);
      return () => proc.off(signal, handler);
    },
    writeOut: (text) => void proc.stdout.write(text),
    writeErr: (text) => void proc.stderr.write(text),
    exit: (code) => proc.exit(code),
  };
}
