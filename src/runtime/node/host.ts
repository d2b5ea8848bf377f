/**
 * The Node {@linkcode HostPort}: `process` and `node:fs`.
 *
 * @module
 */
import process from "node:process";
import { readFile, rename, rm } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { interfaceAddresses, listedOrNone } from "../_address.ts";
import { fileKind, fileMode, listFiles, makeDir, readStdin, realPath, watchDir, writeTextFile } from "../_files.ts";
import { signalProcess } from "../_errors.ts";
import type { HostPort, SignalName } from "../types.ts";

/** The process as Node shows it. */
export const nodeHost: HostPort = {
  args: process.argv.slice(2),
  env: (name) => process.env[name],
  readTextFile: (path) => readFile(path, "utf8"),
  writeTextFile,
  fileMode,
  fileKind,
  realPath,
  renameFile: (from, to) => rename(from, to),
  removeFile: (path) => rm(path, { force: true }),
  listFiles,
  makeDir,
  watchDir,
  readStdin: () => readStdin(process.stdin),
  pid: process.pid,
  kill: (pid, signal) => signalProcess((p, s) => process.kill(p, s), pid, signal),
  localAddresses: () => listedOrNone(() => interfaceAddresses(networkInterfaces())),
  onSignal(signal: SignalName, handler: () => void) {
    process.on(signal, handler);
    return () => void process.off(signal, handler);
  },
  writeOut: (text) => void process.stdout.write(text),
  writeErr: (text) => void process.stderr.write(text),
  exit: (code) => process.exit(code),
};
