/**
 * The Node adapter: `node:net` sockets with `allowHalfOpen`, relayed with
 * `pipe()` (backpressure via `write()`/`drain`), and `@hono/node-server` for HTTP.
 *
 * @module
 */
import * as net from "node:net";
import process from "node:process";
import { readFile } from "node:fs/promises";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { serve } from "@hono/node-server";
import { formatAddress } from "../net/address.ts";
import { connectFailureOf, errorText, listenError, socketAddress, webClock } from "./common.ts";
import {
  ConnectError,
  type ConnectTcpOptions,
  type FetchHandler,
  type HttpServer,
  type ListenTcpOptions,
  type Relay,
  type RelayOutcome,
  type RelayResult,
  type RelayTally,
  type Runtime,
  type SignalName,
  type SocketAddress,
  type TcpConnection,
  type TcpListener,
  type WorkerChannel,
  type WorkerHandle,
} from "./types.ts";

/** A `net.Socket` behind the {@linkcode TcpConnection} contract. */
export class NodeConnection implements TcpConnection {
  readonly remote: SocketAddress;
  readonly local: SocketAddress;
  /** The first error seen before a relay took the socket over. */
  earlyError: Error | undefined;

  constructor(readonly socket: net.Socket) {
    this.remote = socketAddress(socket.remoteAddress, socket.remotePort);
    this.local = socketAddress(socket.localAddress, socket.localPort);
    socket.on("error", this.rememberError);
  }

  private rememberError = (error: Error): void => {
    this.earlyError ??= error;
  };

  abort(): void {
    this.socket.destroy();
  }
}

/**
 * Relays with Node's own `pipe()` both ways (backpressure via write()/drain and
 * end() on end, as the Node floor in bench/ does); the handlers here only
 * count bytes, note which side ended first, and tear both down on an error.
 */
class NodeRelay implements Relay {
  readonly done: Promise<RelayResult>;
  private settle!: (result: RelayResult) => void;
  private outcome: RelayOutcome | undefined;
  private error: string | undefined;
  private failed = false;
  private open = 2;

  constructor(private readonly client: NodeConnection, private readonly upstream: NodeConnection, private readonly tally: RelayTally) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    const c = client.socket;
    const u = upstream.socket;
    c.on("data", this.countUp);
    u.on("data", this.countDown);
    c.pipe(u);
    u.pipe(c);
    c.on("end", this.onClientEnd);
    u.on("end", this.onUpstreamEnd);
    c.on("error", this.onClientError);
    u.on("error", this.onUpstreamError);
    this.whenClosed(c);
    this.whenClosed(u);
    if (client.earlyError || c.destroyed) this.fail("client_error", client.earlyError ?? "closed before relay");
    else if (upstream.earlyError || u.destroyed) this.fail("upstream_error", upstream.earlyError ?? "closed before relay");
    else {
      c.resume();
      u.resume();
    }
  }

  abort(): void {
    this.fail("aborted", undefined);
  }

  private countUp = (chunk: Buffer): void => void (this.tally.up += chunk.length);
  private countDown = (chunk: Buffer): void => void (this.tally.down += chunk.length);

  private onClientEnd = (): void => {
    this.outcome ??= "client_closed";
  };

  private onUpstreamEnd = (): void => {
    this.outcome ??= "upstream_closed";
  };

  private onClientError = (error: Error): void => this.fail("client_error", error);
  private onUpstreamError = (error: Error): void => this.fail("upstream_error", error);

  private fail(outcome: RelayOutcome, error: Error | string | undefined): void {
    if (this.failed) return;
    this.failed = true;
    this.outcome = outcome;
    this.error = error === undefined ? undefined : typeof error === "string" ? error : errorText(error);
    this.client.socket.destroy();
    this.upstream.socket.destroy();
  }

  private whenClosed(socket: net.Socket): void {
    if (socket.closed) queueMicrotask(this.onClose);
    else socket.once("close", this.onClose);
  }

  private onClose = (): void => {
    if (--this.open > 0) {
      // One side is gone for good: a lingering peer would hold the other open forever.
      if (!this.client.socket.writableEnded || !this.upstream.socket.writableEnded) {
        if (this.outcome === undefined) this.fail(this.client.socket.closed ? "client_error" : "upstream_error", "closed");
      }
      return;
    }
    this.settle({ outcome: this.outcome ?? "client_closed", error: this.error });
  };
}

async function listenTcp(options: ListenTcpOptions, onConnection: (conn: TcpConnection) => void): Promise<TcpListener> {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => {
    if (socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    onConnection(new NodeConnection(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(listenError(formatAddress(options), error)));
    server.listen({ host: options.host, port: options.port, backlog: 4096 }, () => resolve());
  });
  // Accept-time errors (EMFILE) must not crash the process; the server keeps listening.
  server.on("error", () => {});
  const bound = server.address() as net.AddressInfo;
  return {
    address: socketAddress(bound.address, bound.port),
    // close() unbinds at once but calls back only when every connection has ended; do not wait for that.
    close: () => {
      if (server.listening) server.close();
      return Promise.resolve();
    },
  };
}

function connectTcp(options: ConnectTcpOptions): Promise<TcpConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: options.host, port: options.port, allowHalfOpen: true, noDelay: true });
    const target = formatAddress(options);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectError("timeout", `Cannot connect to ${target}: timed out after ${options.timeoutMs}ms`));
    }, options.timeoutMs);
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(new ConnectError(connectFailureOf(error), `Cannot connect to ${target}: ${errorText(error)}`));
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeListener("error", onError);
      socket.pause();
      resolve(new NodeConnection(socket));
    });
  });
}

function relayTcp(client: TcpConnection, upstream: TcpConnection, tally: RelayTally): Relay {
  return new NodeRelay(client as NodeConnection, upstream as NodeConnection, tally);
}

async function serveHttp(options: { host: string; port: number }, handler: FetchHandler): Promise<HttpServer> {
  let server: ReturnType<typeof serve>;
  await new Promise<void>((resolve, reject) => {
    server = serve({ fetch: handler, hostname: options.host, port: options.port }, () => resolve());
    server.once("error", (error) => reject(listenError(formatAddress(options), error)));
  });
  const bound = server!.address() as net.AddressInfo;
  return {
    address: socketAddress(bound.address, bound.port),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

function spawnWorker(entry: URL): WorkerHandle {
  // execArgv is inherited, so a worker started under `--import tsx` can load .ts too.
  const worker = new Worker(entry);
  return {
    postMessage: (message) => worker.postMessage(message),
    onMessage: (handler) => void worker.on("message", handler),
    onError: (handler) => void worker.on("error", (error) => handler(error.message)),
    terminate: () => void worker.terminate(),
  };
}

function workerChannel(): WorkerChannel | undefined {
  if (isMainThread || !parentPort) return undefined;
  const port = parentPort;
  return {
    postMessage: (message) => port.postMessage(message),
    onMessage: (handler) => void port.on("message", handler),
    close: () => port.close(),
  };
}

/** The Node implementation of {@linkcode Runtime}. */
export const nodeRuntime: Runtime = {
  name: "node",
  version: process.versions.node,
  supportsReusePort: false,
  clock: webClock,
  listenTcp,
  connectTcp,
  relayTcp,
  serveHttp,
  spawnWorker,
  workerChannel,
  args: process.argv.slice(2),
  env: (name) => process.env[name],
  readTextFile: (path) => readFile(path, "utf8"),
  onSignal(signal: SignalName, handler: () => void) {
    process.on(signal, handler);
    return () => void process.off(signal, handler);
  },
  writeOut: (text) => void process.stdout.write(text),
  writeErr: (text) => void process.stderr.write(text),
  exit: (code) => process.exit(code),
};
