/**
 * The Deno relay: two `read`/`write` loops over reused buffers, with
 * `closeWrite()` for half-close (Deno's `readable`/`writable` streams would
 * close the whole connection).
 *
 * @module
 */
import { RelayCore } from "../_relay.ts";
import type { RelayTally } from "../types.ts";
import type { DenoConnection } from "./connection.ts";

/**
 * Read buffers start small so that thousands of idle connections cost little
 * (a pending read pins its buffer), and grow when reads fill them.
 */
const FIRST_READ_BUFFER = 2048;
const MAX_READ_BUFFER = 128 * 1024;

/** Two pumps, one per direction; the relay ends when both have. */
export class DenoRelay extends RelayCore<DenoConnection> {
  private running = 2;

  constructor(client: DenoConnection, upstream: DenoConnection, tally: RelayTally) {
    super(client, upstream, tally);
    this.pump(client, upstream, true);
    this.pump(upstream, client, false);
  }

  protected destroy(): void {
    this.client.abort();
    this.upstream.abort();
  }

  /** Copies `from` into `to` until end-of-stream (then sends our FIN) or an error. */
  private async pump(from: DenoConnection, to: DenoConnection, upward: boolean): Promise<void> {
    try {
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
          this.recordEnd(upward);
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
        if (upward) this.tally.toUpstream += n;
        else this.tally.toClient += n;
        if (n === buffer.length && buffer.length < MAX_READ_BUFFER) buffer = new Uint8Array(buffer.length * 8);
      }
    } finally {
      if (--this.running === 0) {
        this.closeSockets();
        this.settle();
      }
    }
  }
}

/** A peer that already closed both ways makes `closeWrite()` fail with NotConnected; that is not an error here. */
function isNotConnected(error: unknown): boolean {
  return (error as Error)?.name === "NotConnected";
}
