/**
 * The Bun {@linkcode HostPort}: Bun's `process`, and `Bun.file` for reading.
 *
 * @module
 */
import type { HostPort, SignalName } from "../types.ts";
import { bun } from "./api.ts";

interface NodeishProcess {
  argv: string[];
  env: Record<string, string | undefined>;
  on(signal: string, handler: () => void): void;
  off(signal: string, handler: () => void): void;
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
    onSignal(signal: SignalName, handler: () => void) {
      proc.on(signal, handler);
      return () => proc.off(signal, handler);
    },
    writeOut: (text) => void proc.stdout.write(text),
    writeErr: (text) => void proc.stderr.write(text),
    exit: (code) => proc.exit(code),
  };
}
