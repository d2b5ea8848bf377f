/**
 * A `net.Socket` behind the {@linkcode TcpConnection} contract, and the one
 * error listener every socket gets from accept or dial on.
 *
 * @module
 */
import type * as net from "node:net";
import { socketAddress } from "../_address.ts";
import type { SocketAddress, TcpConnection } from "../types.ts";
import type { PendingConnect } from "./net.ts";
import type { NodeRelay } from "./relay.ts";

/** Where a socket's relay (or its dial, before that) is kept, so shared listeners find it through `this`. */
export const RELAY = Symbol("sluice.relay");
/** Where a socket being dialled keeps its {@linkcode PendingConnect}. */
export const PENDING = Symbol("sluice.pendingConnect");

/** A socket with the adapter's state on it. */
export type RelayedSocket = net.Socket & { [RELAY]?: NodeRelay; [PENDING]?: PendingConnect; earlyError?: Error };

// Listeners shared by every socket (Node calls them with the socket as `this`), each added
// once per socket with on() rather than once(), so a connection costs no closures or wrappers.

/** A socket's one error listener, from accept or dial on: it fails the dial, then the relay; between the two it remembers. */
export function onSocketError(this: RelayedSocket, error: Error): void {
  const relay = this[RELAY];
  if (relay) return relay.fail(relay.isClient(this) ? "client_error" : "upstream_error", error);
  const pending = this[PENDING];
  if (pending) return pending.failed(error);
  this.earlyError ??= error;
}

/** A Node socket; its error listener ({@linkcode onSocketError}) is already on. */
export class NodeConnection implements TcpConnection {
  readonly socket: RelayedSocket;
  private remoteAddress: SocketAddress | undefined = undefined;
  private localAddress: SocketAddress | undefined = undefined;

  constructor(socket: RelayedSocket) {
    this.socket = socket;
  }

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
