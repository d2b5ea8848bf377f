/** Everything a test file starts, closed after its last test, newest first. */
import { after } from "node:test";
import type * as net from "node:net";
import { startServer, type TestServer } from "./net.ts";

/** Registers an `after` hook for this file; returns the list to add to and a backend that closes itself. */
export function cleanupAfter() {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  /** A TCP server on 127.0.0.1, closed after the file's tests. */
  async function server(onSocket: (socket: net.Socket) => void): Promise<TestServer> {
    const s = await startServer(onSocket);
    cleanups.push(() => s.close());
    return s;
  }
  return { cleanups, server };
}
