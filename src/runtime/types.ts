/**
 * The ports the core needs from a JavaScript runtime, each small and apart:
 * {@linkcode NetPort} (TCP now, UDP next), {@linkcode HttpPort},
 * {@linkcode ThreadPort}, {@linkcode HostPort} and a {@linkcode Clock}. Each
 * adapter (`deno/`, `bun/`, `node/`) exports one {@linkcode Runtime} built
 * from them; nothing outside `src/runtime/` touches Deno, Bun or Node APIs.
 *
 * @module
 */
import type { SocketAddress } from "../net/address.ts";

export type { SocketAddress };

/** An accepted or dialled TCP connection. Bytes move only through {@linkcode NetPort.relayTcp}. */
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

/** Options for {@linkcode NetPort.listenTcp}. */
export interface ListenTcpOptions {
  readonly host: string;
  readonly port: number;
  /** Sets SO_REUSEPORT so several workers can share the port (where the runtime can). */
  readonly reusePort?: boolean;
  /** Told when an accept failed (out of descriptors); the listener backs off and keeps accepting. */
  readonly onError?: (error: string) => void;
}

/** Options for {@linkcode NetPort.connectTcp}. */
export interface ConnectTcpOptions {
  readonly host: string;
  readonly port: number;
  /** Give up (and count a `timeout`) after this many milliseconds. */
  readonly timeoutMs: number;
}

/**
 * Why a connect failed, normalized across runtimes. `local` is a failure of
 * ours, not the backend's: out of file descriptors, ephemeral ports or memory.
 */
export type ConnectFailure = "refused" | "timeout" | "unreachable" | "reset" | "dns" | "local" | "error";

/** All connect failure reasons, so counters start at zero and metrics show every label. */
export const CONNECT_FAILURES: readonly ConnectFailure[] = [
  "refused",
  "timeout",
  "unreachable",
  "reset",
  "dns",
  "local",
  "error",
];

/** The error {@linkcode NetPort.connectTcp} rejects with. */
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
 * Byte tallies of a relay. Plain number fields: a relay either adds to them
 * per chunk (the hot path does nothing else for accounting) or sets them from
 * the runtime's own counters in {@linkcode Relay.readTally}. Either way they
 * are final once `done` settles.
 */
export interface RelayTally {
  /** Bytes from the client written to the upstream. */
  toUpstream: number;
  /** Bytes from the upstream written to the client. */
  toClient: number;
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
   * Ends both sides with a FIN, never a reset (an idle or half-close timeout
   * on a quiet connection), and releases the sockets; `done` then reports `aborted`.
   */
  close(): void;
  /** True once either side's end-of-stream was seen and passed on, while the relay has not failed. */
  readonly halfClosed: boolean;
  /**
   * Brings the tally up to date, for a relay that leaves counting to the
   * runtime's own byte counters instead of adding per chunk.
   */
  readTally?(): void;
}

/**
 * Sockets. `C` is the adapter's own connection type: connections only ever
 * come from the port they are handed back to, so an adapter's relay gets its
 * own class without a cast (methods are checked bivariantly, which lets a
 * `NetPort<DenoConnection>` stand where a `NetPort` is asked for).
 */
export interface NetPort<C extends TcpConnection = TcpConnection> {
  /** Whether {@linkcode ListenTcpOptions.reusePort} really shares a port between listeners. */
  readonly supportsReusePort: boolean;
  /**
   * Listens for TCP; `onConnection` gets each accepted connection. Bytes (and
   * a FIN) that arrive before {@linkcode relayTcp} takes it over are held,
   * bounded, and delivered first.
   */
  listenTcp(options: ListenTcpOptions, onConnection: (conn: C) => void): Promise<TcpListener>;
  /** Connects to a TCP peer; rejects with {@linkcode ConnectError}. */
  connectTcp(options: ConnectTcpOptions): Promise<C>;
  /**
   * Moves bytes both ways between two connections of this port, with
   * backpressure and half-close, until both directions end or one fails.
   */
  relayTcp(client: C, upstream: C, tally: RelayTally): Relay;
  /**
   * Whether {@linkcode ListenUdpOptions.reusePort} really shares a datagram
   * port between sockets (the kernel then hashes a client's datagrams to one).
   */
  readonly supportsUdpReusePort: boolean;
  /**
   * Binds a UDP socket; `onDatagram` gets every datagram with its sender.
   * The buffer is the receiver's to keep: adapters never reuse it.
   */
  listenUdp(
    options: ListenUdpOptions,
    onDatagram: (data: Uint8Array, from: SocketAddress) => void,
  ): Promise<UdpListener>;
  /**
   * Opens a UDP socket on an ephemeral port for one peer: connected to it
   * where the runtime can connect a datagram socket, otherwise taking
   * datagrams only from its address. `onDatagram` gets the peer's replies.
   */
  connectUdp(options: ConnectUdpOptions, onDatagram: (data: Uint8Array) => void): Promise<UdpUpstream>;
  /**
   * A short TCP conversation for health checks: connect within `timeoutMs`,
   * send `send` if given, then read until `enough(received)` says so, the
   * peer closes, or `maxBytes` arrived; resolves with what was read (also when
   * time runs out after some bytes came). Rejects with {@linkcode ConnectError}
   * (`timeout` when the time ran out with nothing read).
   */
  probeTcp(options: ProbeOptions): Promise<Uint8Array>;
  /**
   * One datagram out and the first reply back, for health checks; rejects
   * with {@linkcode ConnectError} (`timeout` when no reply came in time,
   * `refused` where the runtime reports ICMP port unreachable).
   */
  probeUdp(options: ProbeOptions & { readonly send: Uint8Array }): Promise<Uint8Array>;
}

/** Options for {@linkcode NetPort.listenUdp}. */
export interface ListenUdpOptions {
  readonly host: string;
  readonly port: number;
  readonly reusePort?: boolean;
  /** Told about socket errors that did not close the socket (the listener keeps receiving). */
  readonly onError?: (error: string) => void;
}

/** A bound UDP socket that receives from anyone and replies from its own address. */
export interface UdpListener {
  /** The bound address; the real port when 0 was asked for. */
  readonly address: SocketAddress;
  /** Sends one datagram to `to` from the listener's address; false when it could not be sent. */
  send(data: Uint8Array, to: SocketAddress): boolean;
  /** Stops receiving and releases the socket. */
  close(): Promise<void>;
}

/** Options for {@linkcode NetPort.connectUdp}. */
export interface ConnectUdpOptions {
  readonly host: string;
  readonly port: number;
  /**
   * Told when the peer refused a datagram (ICMP port unreachable, where the
   * runtime reports it) or the socket failed; the socket stays open.
   */
  readonly onError?: (failure: ConnectFailure, error: string) => void;
}

/** A UDP socket talking to one peer (a backend). */
export interface UdpUpstream {
  /** Our end's address (an ephemeral port). */
  readonly local: SocketAddress;
  /** Sends one datagram to the peer; false when it could not be sent. */
  send(data: Uint8Array): boolean;
  /** Releases the socket. Safe to call more than once. */
  close(): void;
}

/** A health check's conversation with a backend. */
export interface ProbeOptions {
  readonly host: string;
  readonly port: number;
  /** The whole exchange, connect included, must finish within this. */
  readonly timeoutMs: number;
  /** Bytes to send after connecting (TCP) or the datagram (UDP). */
  readonly send?: Uint8Array;
  /** TCP: stop reading once this says the reply is complete. */
  readonly enough?: (received: Uint8Array) => boolean;
  /** TCP: stop reading after this many bytes (default 64 KiB). */
  readonly maxBytes?: number;
}

/** What an HTTP handler learns about the request beyond the request itself. */
export interface HttpRequestInfo {
  /** The client's address (admin auth and CIDR rules need it). */
  readonly remote: SocketAddress;
}

/**
 * A handler in the shape of `fetch`, as hono's `app.fetch` is; the second
 * argument becomes hono's `c.env`.
 */
export type FetchHandler = (request: Request, info: HttpRequestInfo) => Response | Promise<Response>;

/** A running HTTP server. */
export interface HttpServer {
  readonly address: SocketAddress;
  /** Stops the server and drops open keep-alive connections. */
  close(): Promise<void>;
}

/** Options for {@linkcode HttpPort.serve}. */
export interface HttpServeOptions {
  readonly host: string;
  readonly port: number;
  /** Told when the server failed (out of descriptors) and was started again on the same address. */
  readonly onError?: (error: string) => void;
}

/** Serving HTTP. */
export interface HttpPort {
  /** Serves HTTP with a fetch-style handler; rejects with `Cannot listen on ...`. */
  serve(options: HttpServeOptions, handler: FetchHandler): Promise<HttpServer>;
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

/** Threads. */
export interface ThreadPort {
  /**
   * Starts a module worker thread running `module`, a path relative to the
   * project root (such as `src/workers/worker.ts`); adapters resolve it, also
   * inside a compiled binary.
   */
  spawn(module: string): WorkerHandle;
  /** Inside a worker: the channel to the parent; undefined on the main thread. */
  channel(): WorkerChannel | undefined;
}

/** Signals the process reacts to. */
export type SignalName = "SIGINT" | "SIGTERM" | "SIGHUP";

/** The process: arguments, environment, files, signals, standard streams, exit. */
/** A file as {@linkcode HostPort.listFiles} reports it. */
export interface FileEntry {
  readonly name: string;
  readonly size: number;
  /** Wall-clock ms of the last change. */
  readonly modifiedMs: number;
}

/** The process and its file system. */
export interface HostPort {
  /** Command-line arguments after the script name. */
  readonly args: readonly string[];
  env(name: string): string | undefined;
  readTextFile(path: string): Promise<string>;
  /** Writes `text` to `path` (replacing it); `mode` sets its permission bits exactly (no umask). */
  writeTextFile(path: string, text: string, mode?: number): Promise<void>;
  /** The permission bits of `path`, or undefined when it does not exist. */
  fileMode(path: string): Promise<number | undefined>;
  /** What `path` is (links followed), or undefined when it does not exist. */
  fileKind(path: string): Promise<"file" | "directory" | "other" | undefined>;
  /** `path` with symbolic links resolved; `path` itself when it does not exist. */
  realPath(path: string): Promise<string>;
  /** Renames `from` to `to`, replacing `to` (atomically, on one file system). */
  renameFile(from: string, to: string): Promise<void>;
  /** Removes `path`; no error when it is already gone. */
  removeFile(path: string): Promise<void>;
  /** Plain files in `dir` (not subdirectories); empty when `dir` does not exist. */
  listFiles(dir: string): Promise<FileEntry[]>;
  /** Creates `path` and its parents; no error when it exists. */
  makeDir(path: string): Promise<void>;
  /**
   * Calls `onChange` (with the file name, or "" when unknown) on every change
   * in `dir`; returns a function that stops watching.
   */
  watchDir(dir: string, onChange: (name: string) => void): () => void;
  /** Everything on standard input until its end. */
  readStdin(): Promise<string>;
  /** This process's id. */
  readonly pid: number;
  /** Sends `signal` to process `pid`; false when there is no such process. */
  kill(pid: number, signal: SignalName): boolean;
  /** Every address of this machine's network interfaces (loopback included), for loop checks; [] where the host will not list them. */
  localAddresses(): string[];
  /** Registers a signal handler; returns a function that removes it. */
  onSignal(signal: SignalName, handler: () => void): () => void;
  /** Writes to standard output. */
  writeOut(text: string): void;
  /** Writes to standard error (logs go here). */
  writeErr(text: string): void;
  /** Ends the process. */
  exit(code: number): never;
}

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

/** Everything the core asks of a runtime: its name and one value per port. */
export interface Runtime {
  /** `deno`, `bun` or `node`. */
  readonly name: "deno" | "bun" | "node";
  /** The runtime's own version string. */
  readonly version: string;
  readonly clock: Clock;
  readonly net: NetPort;
  readonly http: HttpPort;
  readonly threads: ThreadPort;
  readonly host: HostPort;
}
