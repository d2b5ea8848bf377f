/**
 * The Bun relay. The shared socket handlers (`handlers.ts`) call into it;
 * backpressure uses `write()`'s short count, `pause()`/`resume()` and
 * `drain`; half-close uses `shutdown()` (Bun's `end()` with no data closes
 * both ways).
 *
 * @module
 */
import { RelayCore } from "../_relay.ts";
import type { RelayTally } from "../types.ts";
import type { BunConnection } from "./connection.ts";

/** Relays between two Bun sockets; the shared handlers call its `on*` methods. */
export class BunRelay extends RelayCore<BunConnection> {
  constructor(client: BunConnection, upstream: BunConnection, tally: RelayTally) {
    super(client, upstream, tally);
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
    if (early.chunks) { for (const chunk of early.chunks) this.onData(side, chunk); }
    if (early.fin) this.onFin(side);
    if (early.paused && !side.peer!.pending) side.socket.resume();
    return true;
  }

  onData(from: BunConnection, chunk: Uint8Array): void {
    const to = from.peer!;
    if (from.isClient) this.tally.toUpstream += chunk.length;
    else this.tally.toClient += chunk.length;
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
    this.recordEnd(from.isClient);
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

  /**
   * terminate() (a reset) and end() (a FIN, for close()) are both final, and
   * the shared close handler ignores sockets closed either way, so the relay
   * is over as soon as both are.
   */
  protected destroy(): void {
    this.client.pending = this.upstream.pending = undefined;
    // A reset or error on one side ends the other with a FIN, as on Node and Deno; only abort() resets.
    if (this.graceful || this.outcome !== "aborted") {
      this.client.closeGracefully();
      this.upstream.closeGracefully();
    } else {
      this.client.abort();
      this.upstream.abort();
    }
    this.settle();
  }

  private sendFin(to: BunConnection): void {
    if (to.finSent || to.closed) return;
    to.finSent = true;
    // When that socket has already ended its side, our FIN finishes it: end() sends it and closes in one step.
    if (to.finReceived) to.closeGracefully();
    else to.socket.shutdown();
  }

  /** Both directions carried their FIN: close both once everything written is sent. */
  private finishIfDone(): void {
    const c = this.client;
    const u = this.upstream;
    if (c.finReceived && c.finSent && u.finReceived && u.finSent) {
      c.closeGracefully();
      u.closeGracefully();
      this.settle();
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}
