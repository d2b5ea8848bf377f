/**
 * The Node {@linkcode ThreadPort}: `node:worker_threads`.
 *
 * @module
 */
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { projectModule } from "../_project.ts";
import type { ThreadPort, WorkerChannel, WorkerHandle } from "../types.ts";

function spawn(module: string): WorkerHandle {
  // Node strips the .ts types in workers as in the main thread (Node >= 22.18).
  const worker = new Worker(projectModule(module));
  return {
    postMessage: (message) => worker.postMessage(message),
    onMessage: (handler) => void worker.on("message", handler),
    onError: (handler) => void worker.on("error", (error) => handler(error.message)),
    terminate: () => void worker.terminate(),
  };
}

function channel(): WorkerChannel | undefined {
  if (isMainThread || !parentPort) return undefined;
  const port = parentPort;
  return {
    postMessage: (message) => port.postMessage(message),
    onMessage: (handler) => void port.on("message", handler),
    close: () => port.close(),
  };
}

/** Worker threads under Node. */
export const nodeThreads: ThreadPort = { spawn, channel };
