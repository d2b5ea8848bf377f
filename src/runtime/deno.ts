/**
 * The Deno adapter: `Deno.listen`/`Deno.connect`, and a relay made of two
 * `read`/`write` loops over reused buffers with `closeWrite()` for half-close
 * (Deno's `readable`/`writable` streams would close the whole connection).
 *
 * @module
 */
import { formatAddress } from "../net/address.ts";
import { dialWithTimeout, errorText, listenError, projectModule, socketAddress, spawnWebWorker, webClock, webWorkerChannel } from "./common.ts";
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
} from "./types.ts";

/**
 * Read buffers start small so that thousands of idle connections cost little
 * (a pending read pins its buffer), and grow when reads fill them.
 */
const FIRST_READ_BUFFER = 2048;
const MAX_READ_BUFFER = 128 * 1024;

/** A `Deno.TcpConn` behind the {@linkcode TcpConnection} contract. */
class DenoConnection implements TcpConnection {
  readonly remote: SocketAddress;
  readonly local: SocketAddress;
  private closed = false;

  constructor(readonly conn: Deno.TcpConn) {
    const remote = conn.remoteAddr as Deno.NetAddr;
    const local = conn.localAddr as Deno.NetAddr;
    this.remote = socketAddress(remote.hostname, remote.port);
    this.local = socketAddress(local.hostname, local.port);
    try {
      conn.setNoDelay(true);
    } catch {
      // A connection already reset cannot take options; the relay will see the error.
    }
  }

  abort(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }
}

/** Two pumps, one per direction; the relay ends when both have. */
class DenoRelay implements Relay {
  readonly done: Promise<RelayResult>;
  private outcome: RelayOutcome | undefined;
  private error: string | undefined;
  private failed = false;

  constructor(private readonly client: DenoConnection, private readonly upstream: DenoConnection, private readonly tally: RelayTally) {
    this.done = Promise.all([this.pump(client, upstream, true), this.pump(upstream, client, false)]).then(() => {
      client.abort();
      upstream.abort();
      return { outcome: this.outcome ?? "client_closed", error: this.error };
    });
  }

  abort(): void {
    this.fail("aborted", undefined);
  }

  private async pump(from: DenoConnection, to: DenoConnection, upward: boolean): Promise<void> {
    let buffer = new Uint8Array(FIRST_READ_BUFFER);
    for (;;) {
      let n: number | null;
      try {
        n = await from.conn.read(buffer);
      } catch (error) {
        return this.fail(upward ? "client_error" : "upstream_error", error);
      }
      if (this.failed) return;
      if (n === null) {
        this.outcome ??= upward ? "client_closed" : "upstream_closed";
        try {
          await to.conn.closeWrite();
        } catch (error) {
          if (!isNotConnected(error)) this.fail(upward ? "upstream_error" : "client_error", error);
        }
        return;
      }
      try {
        let written = 0;
        while (written < n) written += await to.conn.write(buffer.subarray(written, n));
      } catch (error) {
        return this.fail(upward ? "upstream_error" : "client_error", error);
      }
      if (upward) this.tally.up += n;
      else this.tally.down += n;
      if (n === buffer.length && buffer.length < MAX_READ_BUFFER) buffer = new Uint8Array(buffer.length * 8);
    }
  }

  private fail(outcome: RelayOutcome, error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.outcome = outcome;
    this.error = error === undefined ? undefined : errorText(error);
    this.client.abort();
    this.upstream.abort();
  }
}

/** A peer that already closed both ways makes `closeWrite()` fail with NotConnected; that is not an error here. */
function isNotConnected(error: unknown): boolean {
  return (error as Error)?.name === "NotConnected";
}

function listenTcp(options: ListenTcpOptions, onConnection: (conn: TcpConnection) => void): Promise<TcpListener> {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: options.host, port: options.port, transport: "tcp", reusePort: options.reusePort || undefined });
  } catch (error) {
    return Promise.reject(listenError(formatAddress(options), error));
  }
  let open = true;
  (async () => {
    while (open) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (!open || error instanceof Deno.errors.BadResource) return;
        // Out of descriptors and similar: back off briefly instead of spinning.
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      onConnection(new DenoConnection(conn));
    }
  })();
  const bound = listener.addr as Deno.NetAddr;
  return Promise.resolve({
    address: socketAddress(bound.hostname, bound.port),
    close() {
      if (open) {
        open = false;
        listener.close();
      }
      return Promise.resolve();
    },
  });
}

const wrapUpstream = (conn: Deno.TcpConn) => new DenoConnection(conn);
const discardUpstream = (conn: Deno.TcpConn) => conn.close();

/** Dials with a plain timer rather than an AbortSignal: a signal makes Deno set up a cancel handle for every connect. */
function connectTcp(options: ConnectTcpOptions): Promise<TcpConnection> {
  return dialWithTimeout(options, Deno.connect({ hostname: options.host, port: options.port }), wrapUpstream, discardUpstream);
}

function serveHttp(options: { host: string; port: number }, handler: FetchHandler): Promise<HttpServer> {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: options.host, port: options.port, onListen() {} }, handler);
  } catch (error) {
    return Promise.reject(listenError(formatAddress(options), error));
  }
  return Promise.resolve({
    address: socketAddress(server.addr.hostname, server.addr.port),
    close: () => server.shutdown(),
  });
}

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

/** Builds the Deno {@linkcode Runtime}; call only under Deno. */
export function createDenoRuntime(): Runtime {
  return {
    name: "deno",
    version: Deno.version.deno,
    // Deno.listen({ reusePort }) without the `net` unstable flag ends the process,
    // so only claim support when an unstable-net API is present.
    supportsReusePort: Deno.build.os === "linux" && typeof (Deno as unknown as Record<string, unknown>).listenDatagram === "function",
    clock: webClock,
    listenTcp,
    connectTcp,
    relayTcp: (client, upstream, tally) => new DenoRelay(client as DenoConnection, upstream as DenoConnection, tally),
    serveHttp,
    spawnWorker: (module) => spawnWebWorker(projectModule(module)),
    // Deno's main thread has no postMessage; a worker's global scope does.
    workerChannel: () => (typeof (globalThis as { postMessage?: unknown }).postMessage === "function" ? webWorkerChannel() : undefined),
    args: Deno.args,
    env: (name) => Deno.env.get(name),
    readTextFile: (path) => Deno.readTextFile(path),
    onSignal(signal: SignalName, handler: () => void) {
      Deno.addSignalListener(signal, handler);
      return () => Deno.removeSignalListener(signal, handler);
    },
    writeOut: (text) => writeAll(Deno.stdout, text),
    writeErr: (text) => writeAll(Deno.stderr, text),
    exit: (code) => Deno.exit(code),
  };
}
