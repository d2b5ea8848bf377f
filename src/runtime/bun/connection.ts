/**
 * A Bun socket behind the {@linkcode TcpConnection} contract, carrying the
 * relay state of the direction that writes into it. Bun keeps it in
 * `socket.data`, so the shared handlers find it without a closure.
 *
 * @module
 */
import { socketAddress } from "../_address.ts";
import type { SocketAddress, TcpConnection } from "../types.ts";
import type { BunRelay } from "./relay.ts";

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

/** Bun socket handlers, as `Bun.listen` and `Bun.connect` take them. */
export interface BunSocketHandlers {
  open?(socket: BunSocket): void;
  data(socket: BunSocket, chunk: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
}

/** What a socket received before its relay existed. */
export interface Early {
  error?: Error;
  fin?: boolean;
  chunks?: Uint8Array[];
  bytes?: number;
  /** Reading stopped because `chunks` reached the early-bytes limit. */
  paused?: boolean;
}

/** One Bun socket with the relay state of the direction that writes into it. */
export class BunConnection implements TcpConnection {
  readonly socket: BunSocket;
  /** Accepted from a client (true) or dialled to an upstream (false). */
  readonly isClient: boolean;
  relay: BunRelay | undefined = undefined;
  /** The other socket of the relay. */
  peer: BunConnection | undefined = undefined;
  /** Bytes this socket has not yet accepted (short write); the peer is paused meanwhile. */
  pending: Uint8Array | undefined = undefined;
  /** End-of-stream (or an orderly close) seen from this socket's peer. */
  finReceived = false;
  /** Our FIN has been sent to this socket. */
  finSent = false;
  closed = false;
  /** Events that came before a relay took the socket over. */
  early: Early | undefined = undefined;

  private remoteAddress: SocketAddress | undefined = undefined;
  private localAddress: SocketAddress | undefined = undefined;

  // Bun turns TCP_NODELAY on for every socket it accepts or connects; setting it again is a wasted system call.
  constructor(socket: BunSocket, isClient: boolean) {
    this.socket = socket;
    this.isClient = isClient;
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
