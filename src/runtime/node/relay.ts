/**
 * The Node relay: a `data` listener per direction (backpressure via
 * `write()`/`drain`), each end-of-stream passed on with `end()`, and bytes
 * counted by the sockets themselves.
 *
 * @module
 */
import type * as net from "node:net";
import { RelayCore } from "../_relay.ts";
import type { RelayTally } from "../types.ts";
import { type NodeConnection, RELAY, type RelayedSocket } from "./connection.ts";

// Shared listeners, called with the socket as `this` (see connection.ts). Only the per-chunk
// pair in forward() are closures: a `this[RELAY]` lookup on every chunk cost more.

function onEnd(this: RelayedSocket): void {
  this[RELAY]!.ended(this);
}
function onClose(this: RelayedSocket): void {
  this[RELAY]!.socketClosed();
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

/**
 * Relays both ways with {@linkcode forward} and passes each end-of-stream on
 * with end(); the shared listeners note which side ended first and tear both
 * down on an error. Bytes are counted by the sockets themselves
 * (`bytesRead`), which costs nothing per chunk.
 */
export class NodeRelay extends RelayCore<NodeConnection> {
  private open = 2;

  constructor(client: NodeConnection, upstream: NodeConnection, tally: RelayTally) {
    super(client, upstream, tally);
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
      // Accepted sockets start paused (pauseOnConnect), so nothing is read before the relay exists.
      c.resume();
      u.resume();
    }
  }

  isClient(socket: net.Socket): boolean {
    return socket === this.client.socket;
  }

  readTally(): void {
    this.tally.toUpstream = this.client.socket.bytesRead;
    this.tally.toClient = this.upstream.socket.bytesRead;
  }

  /** `socket` sent its FIN: remember who ended first and pass the FIN on. */
  ended(socket: net.Socket): void {
    const fromClient = socket === this.client.socket;
    this.recordEnd(fromClient);
    (fromClient ? this.upstream : this.client).socket.end();
  }

  /** One socket closed; the relay is done when both have. */
  socketClosed(): void {
    if (--this.open > 0) {
      // One side is gone for good: a lingering peer would hold the other open forever.
      const c = this.client.socket;
      const u = this.upstream.socket;
      if ((!c.writableEnded || !u.writableEnded) && this.outcome === undefined) {
        this.fail(c.closed ? "client_error" : "upstream_error", "closed");
      }
      return;
    }
    this.readTally();
    this.settle();
  }

  protected destroy(): void {
    this.client.socket.destroy();
    this.upstream.socket.destroy();
  }

  private watchClose(socket: net.Socket): void {
    if (socket.closed) queueMicrotask(() => this.socketClosed());
    else socket.on("close", onClose);
  }
}
