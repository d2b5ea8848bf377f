/**
 * The Node adapter: `node:net` sockets with `allowHalfOpen`, relayed by a
 * `data` listener per direction (backpressure via `write()`/`drain`), and
 * `@hono/node-server` for HTTP.
 *
 * @module
 */
import * as net from "node:net";
import process from "node:process";
import { readFile } from "node:fs/promises";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { serve } from "@hono/node-server";
import { formatAddress } from "../net/address.ts";
import { connectFailed, connectTimeout, errorText, listenError, projectModule, socketAddress, webClock } from "./common.ts";
import {
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

/** Where a socket's relay (or its dial, before that) is kept, so shared listeners find it through `this`. */
const RELAY = Symbol("sluice.relay");
const PENDING = Symbol("sluice.pendingConnect");
type RelayedSocket = net.Socket & { [RELAY]?: NodeRelay; [PENDING]?: PendingConnect; earlyError?: Error };

// Listeners shared by every socket (Node calls them with the socket as `this`), each added
// once per socket with on() rather than once(), so a connection costs no closures or wrappers.
// Only the per-chunk pair in forward() are closures: a `this[RELAY]` lookup on every chunk cost more.

/** A socket's one error listener, from accept or dial on: it fails the dial, then the relay; between the two it remembers. */
function onSocketError(this: RelayedSocket, error: Error): void {
  const relay = this[RELAY];
  if (relay) return relay.fail(relay.isClient(this) ? "client_error" : "upstream_error", error);
  const pending = this[PENDING];
  if (pending) return pending.failed(error);
  this.earlyError ??= error;
}
function onEnd(this: RelayedSocket): void {
  this[RELAY]!.ended(this);
}
function onClose(this: RelayedSocket): void {
  this[RELAY]!.closed();
}

/**
 * Copies `from` into `to`, pausing `from` while `to` cannot take more. This is
 * what `pipe()` does per chunk, without its setup and teardown: pipe() adds and
 * later removes about eight listeners per direction, which made each new
 * connection cost ~15% more CPU.
 */
function forward(from: net.Socket, to: net.Socket): void {
  from.on("data", (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on("drain", () => from.resume());
}

/** A `net.Socket` behind the {@linkcode TcpConnection} contract; its error listener is already on. */
export class NodeConnection implements TcpConnection {
  private remoteAddress: SocketAddress | undefined;
  private localAddress: SocketAddress | undefined;

  constructor(readonly socket: RelayedSocket) {}

  // Read on demand: each is a system call, and upstream addresses are rarely needed.
  get remote(): SocketAddress {
    return (this.remoteAddress ??= socketAddress(this.socket.remoteAddress, this.socket.remotePort));
  }

  get local(): SocketAddress {
    return (this.localAddress ??= socketAddress(this.socket.localAddress, this.socket.localPort));
  }

  abort(): void {
    this.socket.destroy();
  }
}

/**
 * Relays both ways with {@linkcode forward} (backpressure via write()/drain)
 * and passes each end-of-stream on with end(); the shared listeners note which
 * side ended first and tear both down on an error. Bytes are counted by the
 * sockets themselves (`bytesRead`), which costs nothing per chunk.
 */
class NodeRelay implements Relay {
  readonly done: Promise<RelayResult>;
  private settle!: (result: RelayResult) => void;
  private outcome: RelayOutcome | undefined;
  private error: string | undefined;
  private failed = false;
  private open = 2;

  constructor(private readonly client: NodeConnection, private readonly upstream: NodeConnection, readonly tally: RelayTally) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    const c = client.socket;
    const u = upstream.socket;
    c[RELAY] = u[RELAY] = this;
    forward(c, u);
    forward(u, c);
    c.on("end", onEnd);
    u.on("end", onEnd);
    this.watchClose(c);
    this.watchClose(u);
    if (c.earlyError || c.destroyed) this.fail("client_error", c.earlyError ?? "closed before relay");
    else if (u.earlyError || u.destroyed) this.fail("upstream_error", u.earlyError ?? "closed before relay");
    else {
      c.resume();
      u.resume();
    }
  }

  abort(): void {
    this.fail("aborted", undefined);
  }

  isClient(socket: net.Socket): boolean {
    return socket === this.client.socket;
  }

  private watchClose(socket: net.Socket): void {
    if (socket.closed) queueMicrotask(() => this.closed());
    else socket.on("close", onClose);
  }

  refresh(): void {
    this.tally.up = this.client.socket.bytesRead;
    this.tally.down = this.upstream.socket.bytesRead;
  }

  /** `socket` sent its FIN: remember who ended first and pass the FIN on. */
  ended(socket: net.Socket): void {
    const fromClient = socket === this.client.socket;
    this.outcome ??= fromClient ? "client_closed" : "upstream_closed";
    (fromClient ? this.upstream : this.client).socket.end();
  }

  fail(outcome: RelayOutcome, error: Error | string | undefined): void {
    if (this.failed) return;
    this.failed = true;
    this.outcome = outcome;
    this.error = error === undefined ? undefined : typeof error === "string" ? error : errorText(error);
    this.client.socket.destroy();
    this.upstream.socket.destroy();
  }

  closed(): void {
    if (--this.open > 0) {
      // One side is gone for good: a lingering peer would hold the other open forever.
      const c = this.client.socket;
      const u = this.upstream.socket;
      if ((!c.writableEnded || !u.writableEnded) && this.outcome === undefined) this.fail(c.closed ? "client_error" : "upstream_error", "closed");
      return;
    }
    this.refresh();
    this.settle({ outcome: this.outcome ?? "client_closed", error: this.error });
  }
}

async function listenTcp(options: ListenTcpOptions, onConnection: (conn: TcpConnection) => void): Promise<TcpListener> {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => {
    if (socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    socket.on("error", onSocketError);
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

/** One connect in flight. Its listeners are shared module functions, not closures per attempt. */
class PendingConnect {
  readonly promise: Promise<TcpConnection>;
  resolve!: (conn: TcpConnection) => void;
  reject!: (error: Error) => void;
  readonly socket: RelayedSocket;
  readonly timer: ReturnType<typeof setTimeout>;

  constructor(readonly options: ConnectTcpOptions) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.socket = net.connect({ host: options.host, port: options.port, allowHalfOpen: true, noDelay: true });
    this.socket[PENDING] = this;
    this.timer = setTimeout(onConnectTimeout, options.timeoutMs, this);
    this.socket.on("error", onSocketError);
    this.socket.on("connect", onConnected);
  }

  failed(error: Error): void {
    this.socket[PENDING] = undefined;
    clearTimeout(this.timer);
    this.reject(connectFailed(this.options, error));
  }
}

function onConnectTimeout(pending: PendingConnect): void {
  pending.socket[PENDING] = undefined;
  pending.socket.destroy();
  pending.reject(connectTimeout(pending.options));
}

function onConnected(this: RelayedSocket): void {
  const pending = this[PENDING]!;
  this[PENDING] = undefined;
  clearTimeout(pending.timer);
  pending.resolve(new NodeConnection(this));
}

function connectTcp(options: ConnectTcpOptions): Promise<TcpConnection> {
  return new PendingConnect(options).promise;
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

function spawnWorker(module: string): WorkerHandle {
  // execArgv is inherited, so a worker started under `--import tsx` can load .ts too.
  const worker = new Worker(projectModule(module));
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
