/**
 * The bookkeeping every adapter's relay shares, written once: which outcome a
 * relay reports, that the first error wins, that the sockets are torn down
 * once and that `done` settles exactly once. An adapter extends
 * {@linkcode RelayCore} and adds only its I/O: moving bytes, passing FINs on,
 * and {@linkcode RelayCore.destroy} (how to close both of its sockets now).
 * Only adapters import this file.
 *
 * @module
 */
import { errorText } from "./_errors.ts";
import type { Relay, RelayOutcome, RelayResult, RelayTally, TcpConnection } from "./types.ts";

/**
 * A relay's outcome, error and settlement. The adapter reports what its
 * sockets do: {@linkcode recordEnd} for a clean end-of-stream,
 * {@linkcode fail} for an error, {@linkcode closeSockets} and
 * {@linkcode settle} once both directions are over.
 *
 * @example
 * ```ts
 * class PipeRelay extends RelayCore<PipeConnection> {
 *   constructor(client: PipeConnection, upstream: PipeConnection, tally: RelayTally) {
 *     super(client, upstream, tally);
 *     // start moving bytes; on the last end-of-stream: this.closeSockets(); this.settle();
 *   }
 *   protected destroy(): void {
 *     this.client.abort();
 *     this.upstream.abort();
 *   }
 * }
 * ```
 */
export abstract class RelayCore<C extends TcpConnection> implements Relay {
  readonly done: Promise<RelayResult>;
  protected readonly client: C;
  protected readonly upstream: C;
  protected readonly tally: RelayTally;
  /** The first clean end-of-stream, or the failure that replaced it. */
  protected outcome: RelayOutcome | undefined = undefined;
  /** Set by the first {@linkcode fail}; later errors are consequences and change nothing. */
  protected failed = false;
  /** Set by {@linkcode close}: {@linkcode destroy} should send FINs, not resets. */
  protected graceful = false;
  private error: string | undefined = undefined;
  private socketsClosed = false;
  private settled = false;
  private resolveDone!: (result: RelayResult) => void;

  constructor(client: C, upstream: C, tally: RelayTally) {
    this.client = client;
    this.upstream = upstream;
    this.tally = tally;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Closes both sockets now; `done` then reports `aborted`. */
  abort(): void {
    this.fail("aborted", undefined);
  }

  /** Like {@linkcode abort}, but {@linkcode destroy} ends both sides with a FIN. */
  close(): void {
    this.graceful = true;
    this.fail("aborted", undefined);
  }

  /** True once either side's end-of-stream was seen, while the relay has not failed. */
  get halfClosed(): boolean {
    return !this.failed && this.outcome !== undefined;
  }

  /**
   * Ends the relay with `outcome` unless an earlier failure already did, and
   * closes both sockets. `error` is the runtime's error (or a short text).
   */
  fail(outcome: RelayOutcome, error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.outcome = outcome;
    this.error = error === undefined ? undefined : errorText(error);
    this.closeSockets();
  }

  /** Notes a clean end-of-stream; the first one names the outcome. */
  protected recordEnd(fromClient: boolean): void {
    this.outcome ??= fromClient ? "client_closed" : "upstream_closed";
  }

  /** Closes both sockets, once: {@linkcode destroy} runs at most one time. */
  protected closeSockets(): void {
    if (this.socketsClosed) return;
    this.socketsClosed = true;
    this.destroy();
  }

  /** Delivers the result; only the first call counts. */
  protected settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveDone({ outcome: this.outcome ?? "client_closed", error: this.error });
  }

  /** Closes both sockets now, both directions at once (with FINs when {@linkcode graceful}). Called at most once. */
  protected abstract destroy(): void;
}
