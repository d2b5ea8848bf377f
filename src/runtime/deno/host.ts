/**
 * The Deno {@linkcode HostPort}: `Deno.args`, `Deno.env`, signals and
 * synchronous writes to the standard streams.
 *
 * @module
 */
import { listedOrNone } from "../_address.ts";
import { signalProcess } from "../_errors.ts";
import type { HostPort, SignalName } from "../types.ts";

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

/** The process as Deno shows it; call only under Deno. */
export function createDenoHost(): HostPort {
  return {
    args: Deno.args,
    env: (name) => Deno.env.get(name),
    readTextFile: (path) => Deno.readTextFile(path),
    writeTextFile: async (path, text, mode) => {
      await Deno.writeTextFile(path, text, mode === undefined ? {} : { mode });
      if (mode !== undefined) await Deno.chmod(path, mode);
    },
    fileMode: async (path) => {
      const info = await Deno.stat(path).catch(() => undefined);
      return info?.mode === null || info?.mode === undefined ? undefined : info.mode & 0o7777;
    },
    fileKind: async (path) => {
      const info = await Deno.stat(path).catch(() => undefined);
      return info === undefined ? undefined : info.isFile ? "file" : info.isDirectory ? "directory" : "other";
    },
    realPath: (path) => Deno.realPath(path).catch(() => path),
    renameFile: (from, to) => Deno.rename(from, to),
    removeFile: (path) =>
      Deno.remove(path).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }),
    listFiles: async (dir) => {
      const entries = [];
      try {
        for await (const entry of Deno.readDir(dir)) {
          if (!entry.isFile) continue;
          const info = await Deno.stat(`${dir}/${entry.name}`).catch(() => undefined);
          if (info) entries.push({ name: entry.name, size: info.size, modifiedMs: info.mtime?.getTime() ?? 0 });
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      return entries;
    },
    makeDir: (path) => Deno.mkdir(path, { recursive: true }),
    watchDir(dir, onChange) {
      const watcher = Deno.watchFs(dir, { recursive: false });
      (async () => {
        for await (const event of watcher) {
          for (const path of event.paths) onChange(path.slice(path.lastIndexOf("/") + 1));
        }
      })().catch(() => {}); // a removed directory ends the watch; the next reload reports it
      return () => watcher.close();
    },
    readStdin: () => new Response(Deno.stdin.readable).text(),
    pid: Deno.pid,
    kill: (pid, signal) => signalProcess((p, s) => Deno.kill(p, s), pid, signal),
    localAddresses: () => listedOrNone(() => Deno.networkInterfaces().map((i) => i.address)),
    onSignal(signal: SignalName, handler: () => void) {
      Deno.addSignalListener(signal, handler);
      return () => Deno.removeSignalListener(signal, handler);
    },
    writeOut: (text) => writeAll(Deno.stdout, text),
    writeErr: (text) => writeAll(Deno.stderr, text),
    exit: (code) => Deno.exit(code),
  };
}
