/**
 * Directory listing, creation, watching and standard input over `node:fs`,
 * shared by the Node and Bun hosts (Bun implements these modules).
 *
 * @module
 */
import { watch } from "node:fs";
import { chmod, mkdir, readdir, realpath, stat, writeFile } from "node:fs/promises";
import type { FileEntry } from "./types.ts";

/** Plain files in `dir` with size and time; empty when `dir` does not exist. */
export async function listFiles(dir: string): Promise<FileEntry[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return [];
    throw error;
  }
  const entries: FileEntry[] = [];
  for (const name of names) {
    const info = await stat(`${dir}/${name}`).catch(() => undefined);
    if (info?.isFile()) entries.push({ name, size: info.size, modifiedMs: info.mtimeMs });
  }
  return entries;
}

/** Writes `text` to `path`; `mode`, when given, is set exactly (the umask does not apply). */
export async function writeTextFile(path: string, text: string, mode?: number): Promise<void> {
  await writeFile(path, text, mode === undefined ? {} : { mode });
  if (mode !== undefined) await chmod(path, mode);
}

/** The permission bits of `path`, or undefined when it does not exist. */
export async function fileMode(path: string): Promise<number | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info === undefined ? undefined : info.mode & 0o7777;
}

/** What `path` is (links followed), or undefined when it does not exist. */
export async function fileKind(path: string): Promise<"file" | "directory" | "other" | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info === undefined ? undefined : info.isFile() ? "file" : info.isDirectory() ? "directory" : "other";
}

/** `path` with symbolic links resolved; `path` itself when it does not exist. */
export function realPath(path: string): Promise<string> {
  return realpath(path).catch(() => path);
}

/** Creates `path` and its parents; no error when it exists. */
export async function makeDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
}

/** Calls `onChange` with the file name of each change in `dir`; returns a function that stops watching. */
export function watchDir(dir: string, onChange: (name: string) => void): () => void {
  const watcher = watch(dir, (_event, name) => onChange(name === null ? "" : String(name)));
  watcher.on("error", () => {}); // a removed directory ends the watch; the next reload reports it
  return () => watcher.close();
}

/** Everything on standard input until its end. */
export async function readStdin(stdin: AsyncIterable<unknown>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stdin) {
    text += typeof chunk === "string" ? chunk : decoder.decode(chunk as Uint8Array, { stream: true });
  }
  return text + decoder.decode();
}
