/**
 * Bun sockets and the relay between two of them. One set of socket handlers is
 * shared by every socket of a role, with per-socket state in `socket.data`.
 * Backpressure uses `write()`'s short count, `pause()`/`resume()` and `drain`;
 * half-close uses `shutdown()` (Bun's `end()` with no data closes both ways).
 *
 * @module
 */
import { errorText, socketAddress } from "./common.ts";
import type { Relay, RelayOutcome, RelayResult, RelayTally, SocketAddress, TcpConnection } from "./types.ts";

/** The slice of Bun's socket API this adapter uses. */
export interface BunSocket {
  data: BunConnection;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  write(data: Uint8Array): number;
  shutdown(halfClose?: boolean): void;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
}

/** Bun socket handlers, as Bun.listen and Bun.connect take them. */
export interface BunSocketHandlers {
  open?(socket: BunSocket): void;
  data(socket: BunSocket, chunk: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
}

/** One Bun socket with the relay state of the direction that writes into it. */
export class BunConnection implements TcpConnection {
  relay: BunRelay | undefined;
  /** The other socket of the relay. */
  peer: BunConnection | undefined;
  /** Bytes this socket has not yet accepted (short write); the peer is paused meanwhile. */
  pending: Uint8Array | undefined;
  /** End-of-stream (or an orderly close) seen from this socket's peer. */
  finReceived = false;
  /** Our FIN has been sent to this socket. */
  finSent = false;
  closed = false;
  /** Events that came before a relay took the socket over. */
  early: Early | undefined;

  private remoteAddress: SocketAddress | undefined;
  private localAddress: SocketAddress | undefined;

  // Bun turns TCP_NODELAY on for every socket it accepts or connects; setting it again is a wasted system call.
  constructor(readonly socket: BunSocket, readonly isClient: boolean) {
    socket.data = this;
  }

  // Read on demand: each costs a system call, and upstream addresses are rarely needed.
  get remote(): SocketAddress {
    return (this.remoteAddress ??= socketAddress(this.socket.remoteAddress, this.socket.remotePort));
  }

  get local(): SocketAddress {
    return (this.localAddress ??= socketAddress(this.socket.localAddress, this.socket.localPort));
  }

  abort(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.terminate();
  }

  /** Closes after everything written so far is sent (terminate could drop it). */
  closeGracefully(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
  }
}

/** Relays between two Bun sockets; the shared handlers below call into it. */
export class BunRelay implements Relay {
  readonly done: Promise<RelayResult>;
  private settle!: (result: RelayResult) => void;
  private outcome: RelayOutcome | undefined;
  private error: string | undefined;
  private failed = false;
  private settled = false;

  constructor(private readonly client: BunConnection, private readonly upstream: BunConnection, private readonly tally: RelayTally) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    client.relay = upstream.relay = this;
    client.peer = upstream;
    upstream.peer = client;
    this.start();
  }

  /** Replays what arrived before the relay existed, then lets bytes flow. */
  private start(): void {
    const { client, upstream } = this;
    if (!this.replay(client) || !this.replay(upstream)) return;
    if (client.closed || upstream.closed) this.onClose(client.closed ? client : upstream, undefined);
  }

  /** Delivers one side's early events; false when they failed the relay. */
  private replay(side: BunConnection): boolean {
    const early = side.early;
    if (!early) return true;
    side.early = undefined;
    if (early.error) {
      this.onError(side, early.error);
      return false;
    }
    if (early.chunks) for (const chunk of early.chunks) this.onData(side, chunk);
    if (early.fin) this.onFin(side);
    if (early.paused && !side.peer!.pending) side.socket.resume();
    return true;
  }

  abort(): void {
    this.fail("aborted", undefined);
  }

  onData(from: BunConnection, chunk: Uint8Array): void {
    const to = from.peer!;
    if (from.isClient) this.tally.up += chunk.length;
    else this.tally.down += chunk.length;
    if (to.pending) {
      // Bun may still dispatch data already read after pause(); keep it in order.
      to.pending = concat(to.pending, chunk);
      return;
    }
    const written = to.socket.write(chunk);
    if (written < chunk.length) {
      to.pending = chunk.subarray(Math.max(written, 0));
      from.socket.pause();
    }
  }

  onDrain(to: BunConnection): void {
    const pending = to.pending;
    if (!pending) return;
    const written = to.socket.write(pending);
    if (written < pending.length) {
      to.pending = pending.subarray(Math.max(written, 0));
      return;
    }
    to.pending = undefined;
    const from = to.peer!;
    if (!from.finReceived) return void from.socket.resume();
    this.sendFin(to);
    this.finishIfDone();
  }

  onFin(from: BunConnection): void {
    if (from.finReceived) return;
    from.finReceived = true;
    this.outcome ??= from.isClient ? "client_closed" : "upstream_closed";
    const to = from.peer!;
    if (!to.pending) this.sendFin(to);
    this.finishIfDone();
  }

  onError(side: BunConnection, error: Error): void {
    this.fail(side.isClient ? "client_error" : "upstream_error", error);
  }

  onClose(side: BunConnection, error: Error | undefined): void {
    if (error) return this.onError(side, error);
    // After our own shutdown(), Bun reports the peer's FIN as a close, not an end.
    if (!side.finReceived && side.finSent) this.onFin(side);
    if (!side.finReceived || !side.finSent) {
      // Gone before both directions finished: nothing more can be delivered.
      this.fail(side.isClient ? "client_error" : "upstream_error", "closed");
    }
    this.finishIfDone();
  }

  private sendFin(to: BunConnection): void {
    if (to.finSent || to.closed) return;
    to.finSent = true;
    // When that socket has already ended its side, our FIN finishes it: end() sends it and closes in one step.
    if (to.finReceived) to.closeGracefully();
    else to.socket.shutdown();
  }

  private finishIfDone(): void {
    const c = this.client;
    const u = this.upstream;
    const bothWays = c.finReceived && c.finSent && u.finReceived && u.finSent;
    if (bothWays) {
      c.closeGracefully();
      u.closeGracefully();
    }
    if ((bothWays || this.failed) && !this.settled) {
      this.settled = true;
      this.settle({ outcome: this.outcome ?? "client_closed", error: this.error });
    }
  }

  private fail(outcome: RelayOutcome, error: Error | string | undefined): void {
    if (this.failed) return;
    this.failed = true;
    this.outcome = outcome;
    this.error = error === undefined ? undefined : typeof error === "string" ? error : errorText(error);
    this.client.pending = this.upstream.pending = undefined;
    this.client.abort();
    this.upstream.abort();
    this.finishIfDone();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}

/** What a socket received before its relay existed. */
interface Early {
  error?: Error;
  fin?: boolean;
  chunks?: Uint8Array[];
  bytes?: number;
  /** Reading stopped because `chunks` reached {@linkcode EARLY_LIMIT}. */
  paused?: boolean;
}

/**
 * Bytes a socket may deliver before its relay starts (while the upstream is
 * dialled). Sockets are not paused up front: pause() and resume() cost four
 * poll updates and an extra wake-up per connection, and most clients send one
 * request and wait.
 */
const EARLY_LIMIT = 64 * 1024;

function earlyOf(conn: BunConnection): Early {
  return (conn.early ??= {});
}

function keepEarly(conn: BunConnection, chunk: Uint8Array): void {
  const early = earlyOf(conn);
  (early.chunks ??= []).push(chunk);
  early.bytes = (early.bytes ?? 0) + chunk.length;
  if (early.bytes >= EARLY_LIMIT && !early.paused) {
    early.paused = true;
    conn.socket.pause();
  }
}

/** Socket handlers shared by every socket of one role; state lives in `socket.data`. */
export function handlers(onOpen?: (socket: BunSocket) => void): BunSocketHandlers {
  return {
    open: onOpen,
    data(socket, chunk) {
      const conn = socket.data;
      if (conn.relay) conn.relay.onData(conn, chunk);
      else keepEarly(conn, chunk);
    },
    drain(socket) {
      socket.data?.relay?.onDrain(socket.data);
    },
    end(socket) {
      const conn = socket.data;
      if (conn.relay) conn.relay.onFin(conn);
      else earlyOf(conn).fin = true;
    },
    close(socket, error) {
      const conn = socket.data;
      // A socket we closed ourselves (abort) needs no further handling.
      if (!conn || conn.closed) return;
      conn.closed = true;
      if (conn.relay) conn.relay.onClose(conn, error);
      else if (error) earlyOf(conn).error ??= error;
    },
    error(socket, error) {
      const conn = socket.data;
      if (!conn) return;
      if (conn.relay) conn.relay.onError(conn, error);
      else earlyOf(conn).error ??= error;
    },
  };
}
