/**
 * The ports the core needs from a JavaScript runtime. Each adapter
 * (`deno.ts`, `bun.ts`, `node.ts`) exports one {@linkcode Runtime}; nothing
 * outside `src/runtime/` touches Deno, Bun or Node APIs.
 *
 * @module
 */
import type { SocketAddress } from "../net/address.ts";

export type { SocketAddress };

/** An accepted or dialled TCP connection. Bytes move only through {@linkcode Runtime.relayTcp}. */
export interface TcpConnection {
  /** The peer's address. */
  readonly remote: SocketAddress;
  /** Our end's address. */
  readonly local: SocketAddress;
  /** Closes both directions at once and releases the socket. Safe to call more than once. */
  abort(): void;
}

/** A listening TCP socket. */
export interface TcpListener {
  /** The bound address; the real port when 0 was asked for. */
  readonly address: SocketAddress;
  /** Stops accepting. Connections already accepted are not touched. */
  close(): Promise<void>;
}

/** Options for {@linkcode Runtime.listenTcp}. */
export interface ListenTcpOptions {
  readonly host: string;
  readonly port: number;
  /** Sets SO_REUSEPORT so several workers can share the port (where the runtime can). */
  readonly reusePort?: boolean;
}

/** Options for {@linkcode Runtime.connectTcp}. */
export interface ConnectTcpOptions {
  readonly host: string;
  readonly port: number;
  /** Give up (and count a `timeout`) after this many milliseconds. */
  readonly timeoutMs: number;
}

/** Why a connect failed, normalized across runtimes. */
export type ConnectFailure = "refused" | "timeout" | "unreachable" | "reset" | "dns" | "error";

/** The error {@linkcode Runtime.connectTcp} rejects with. */
export class ConnectError extends Error {
  /** The normalized reason, used as a metric label. */
  readonly reason: ConnectFailure;
  constructor(reason: ConnectFailure, message: string) {
    super(message);
    this.name = "ConnectError";
    this.reason = reason;
  }
}

/**
 * Byte tallies of a relay: bytes received from each side to pass on. Plain
 * number fields: a relay either adds to them per chunk (the hot path does
 * nothing else for accounting) or sets them from the runtime's own counters on
 * {@linkcode Relay.refresh}. Either way they are final once `done` settles.
 */
export interface RelayTally {
  /** Bytes from the client written to the upstream. */
  up: number;
  /** Bytes from the upstream written to the client. */
  down: number;
}

/**
 * How a relay ended. `client_closed`/`upstream_closed` name the side whose
 * end-of-stream came first when both directions finished cleanly; `*_error`
 * names the side that failed (reset, abort); `aborted` means {@linkcode Relay.abort}.
 */
export type RelayOutcome = "client_closed" | "upstream_closed" | "client_error" | "upstream_error" | "aborted";

/** Result of a finished relay; both sockets are closed when it is delivered. */
export interface RelayResult {
  readonly outcome: RelayOutcome;
  /** The runtime's error text for `*_error` outcomes. */
  readonly error?: string;
}

/** A running relay between two connections. */
export interface Relay {
  /** Settles (never rejects) once both sockets are closed. */
  readonly done: Promise<RelayResult>;
  /** Closes both sockets now; `done` then reports `aborted`. */
  abort(): void;
  /**
   * Brings the tally up to date, for a relay that leaves counting to the
   * runtime's own byte counters instead of adding per chunk.
   */
  refresh?(): void;
}

/** A running HTTP server. */
export interface HttpServer {
  readonly address: SocketAddress;
  /** Stops the server and drops open keep-alive connections. */
  close(): Promise<void>;
}

/** A handler in the shape of `fetch`, as hono's `app.fetch` is. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Signals the process reacts to. */
export type SignalName = "SIGINT" | "SIGTERM" | "SIGHUP";

/** A monotonic clock and timers; injected so core tests can use a manual clock. */
export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Wall-clock milliseconds since the epoch, for log timestamps. */
  wallNow(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** The parent's handle on a worker thread. */
export interface WorkerHandle {
  postMessage(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
  /** Called if the worker dies from an uncaught error. */
  onError(handler: (error: string) => void): void;
  terminate(): void;
}

/** A worker's channel to its parent. */
export interface WorkerChannel {
  postMessage(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
  /** Lets the worker end once nothing else keeps it alive. */
  close(): void;
}

/** Everything the core asks of a runtime. */
export interface Runtime {
  /** `deno`, `bun` or `node`. */
  readonly name: "deno" | "bun" | "node";
  /** The runtime's own version string. */
  readonly version: string;
  /** Whether {@linkcode ListenTcpOptions.reusePort} really shares a port between listeners. */
  readonly supportsReusePort: boolean;
  readonly clock: Clock;

  /**
   * Listens for TCP; `onConnection` gets each accepted connection. Bytes (and
   * a FIN) that arrive before {@linkcode relayTcp} takes it over are held,
   * bounded, and delivered first.
   */
  listenTcp(options: ListenTcpOptions, onConnection: (conn: TcpConnection) => void): Promise<TcpListener>;
  /** Connects to a TCP peer; rejects with {@linkcode ConnectError}. */
  connectTcp(options: ConnectTcpOptions): Promise<TcpConnection>;
  /**
   * Moves bytes both ways between two connections from this runtime, with
   * backpressure and half-close, until both directions end or one fails.
   */
  relayTcp(client: TcpConnection, upstream: TcpConnection, tally: RelayTally): Relay;
  /** Serves HTTP with a fetch-style handler. */
  serveHttp(options: { host: string; port: number }, handler: FetchHandler): Promise<HttpServer>;

  /**
   * Starts a module worker thread running `module`, a path relative to the
   * project root (such as `src/workers/worker.ts`); adapters resolve it, also
   * inside a compiled binary.
   */
  spawnWorker(module: string): WorkerHandle;
  /** Inside a worker: the channel to the parent; undefined on the main thread. */
  workerChannel(): WorkerChannel | undefined;

  /** Command-line arguments after the script name. */
  readonly args: readonly string[];
  env(name: string): string | undefined;
  readTextFile(path: string): Promise<string>;
  /** Registers a signal handler; returns a function that removes it. */
  onSignal(signal: SignalName, handler: () => void): () => void;
  /** Writes to standard output. */
  writeOut(text: string): void;
  /** Writes to standard error (logs go here). */
  writeErr(text: string): void;
  /** Ends the process. */
  exit(code: number): never;
}
