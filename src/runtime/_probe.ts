/**
 * Health-check conversations, written once: {@linkcode TcpProbe} keeps the
 * deadline, the bytes read, when to stop and how the probe settles, while
 * each adapter only moves bytes; {@linkcode probeUdpWith} builds the UDP
 * probe on an adapter's own `connectUdp`. Only adapters import this file.
 *
 * @module
 */
import { formatAddress } from "../net/address.ts";
import { connectFailed, connectFailureOf, connectTimeout, errorText } from "./_errors.ts";
import { ConnectError, type NetPort, type ProbeOptions, type UdpUpstream } from "./types.ts";

/** What a TCP probe reads at most when {@linkcode ProbeOptions.maxBytes} is not given. */
export const DEFAULT_PROBE_BYTES = 64 * 1024;

const EMPTY = new Uint8Array(0);

/**
 * One TCP probe in flight. The adapter reports what its socket does —
 * {@linkcode attach}, {@linkcode connected}, {@linkcode data},
 * {@linkcode end}, {@linkcode fail} — and the probe settles exactly once:
 * with the bytes read, or with a {@linkcode ConnectError}. Whichever way it
 * ends (deadline included), the socket is closed through the function given
 * to {@linkcode attach}.
 *
 * @example
 * ```ts
 * const probe = new TcpProbe(options);
 * const socket = net.connect({ host: options.host, port: options.port });
 * probe.attach(() => socket.destroy());
 * socket.on("connect", () => probe.connected());
 * socket.on("data", (chunk) => probe.data(chunk));
 * socket.on("end", () => probe.end());
 * socket.on("error", (error) => probe.fail(error));
 * return probe.promise;
 * ```
 */
export class TcpProbe {
  /** Resolves with what was read; rejects with a {@linkcode ConnectError}. */
  readonly promise: Promise<Uint8Array>;
  private readonly options: ProbeOptions;
  private readonly maxBytes: number;
  private readonly timer: ReturnType<typeof setTimeout>;
  private received: Uint8Array = EMPTY;
  private isConnected = false;
  private settled = false;
  private closeSocket: (() => void) | undefined = undefined;
  private resolve!: (bytes: Uint8Array) => void;
  private reject!: (error: ConnectError) => void;

  constructor(options: ProbeOptions) {
    this.options = options;
    this.maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_PROBE_BYTES);
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(() => this.timedOut(), options.timeoutMs);
  }

  /** True once the probe has settled; the adapter stops reading then. */
  get done(): boolean {
    return this.settled;
  }

  /**
   * Gives the probe the way to close the socket (a later call replaces it:
   * aborting a connect, then closing the connection). When the probe already
   * ended (the deadline passed while connecting), closes at once and returns false.
   */
  attach(close: () => void): boolean {
    if (this.settled) {
      safely(close);
      return false;
    }
    this.closeSocket = close;
    return true;
  }

  /** The connection is up: later failures are the conversation's, not the connect's. */
  connected(): void {
    this.isConnected = true;
    // `enough` may be satisfied by nothing at all: a plain connect check ends here.
    let complete = false;
    try {
      complete = this.options.send === undefined && (this.options.enough?.(EMPTY) ?? false);
    } catch (error) {
      return this.fail(error);
    }
    if (complete) this.finish();
  }

  /** Bytes arrived (copied: the adapter may reuse `chunk`); ends the probe once enough or `maxBytes` arrived. */
  data(chunk: Uint8Array): void {
    if (this.settled || chunk.length === 0) return;
    const room = this.maxBytes - this.received.length;
    const take = chunk.length > room ? chunk.subarray(0, room) : chunk;
    const joined = new Uint8Array(this.received.length + take.length);
    joined.set(this.received);
    joined.set(take, this.received.length);
    this.received = joined;
    let complete: boolean;
    try {
      complete = joined.length >= this.maxBytes || (this.options.enough?.(joined) ?? false);
    } catch (error) {
      // A throwing `enough` must not become an uncaught error inside a socket handler.
      return this.fail(error);
    }
    if (complete) this.finish();
  }

  /** The peer closed its side: the probe resolves with what it read. */
  end(): void {
    this.finish();
  }

  /** The connect or the conversation failed with the runtime's `error`. */
  fail(error: unknown): void {
    if (this.settled) return;
    this.settle();
    this.reject(
      this.isConnected
        ? new ConnectError(
          connectFailureOf(error),
          `Probe of ${formatAddress(this.options)} failed after connecting: ${errorText(error)}`,
        )
        : connectFailed(this.options, error),
    );
  }

  private finish(): void {
    if (this.settled) return;
    this.settle();
    this.resolve(this.received);
  }

  private timedOut(): void {
    if (this.settled) return;
    // Something came back, just not enough of it: the check judges what it got ("unexpected reply").
    if (this.received.length > 0) return this.finish();
    this.settle();
    this.reject(
      this.isConnected
        ? new ConnectError(
          "timeout",
          `No complete reply from ${formatAddress(this.options)} within ${this.options.timeoutMs}ms`,
        )
        : connectTimeout(this.options),
    );
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
    if (this.closeSocket) safely(this.closeSocket);
  }
}

function safely(close: () => void): void {
  try {
    close();
  } catch {
    // Already closed.
  }
}

/**
 * A UDP probe on an adapter's own `connectUdp`: one ephemeral socket, one
 * datagram out, the first reply back. Rejects with a {@linkcode ConnectError}:
 * `timeout` when nothing came back in time, or the failure `connectUdp`
 * reported (`refused` where the runtime surfaces ICMP port unreachable).
 * The socket is always closed.
 *
 * @example
 * ```ts
 * const reply = await probeUdpWith(connectUdp, { host: "10.0.0.5", port: 53, timeoutMs: 500, send: query });
 * ```
 */
export function probeUdpWith(
  connectUdp: NetPort["connectUdp"],
  options: ProbeOptions & { readonly send: Uint8Array },
): Promise<Uint8Array> {
  const peer = formatAddress(options);
  return new Promise((resolve, reject) => {
    let upstream: UdpUpstream | undefined;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      upstream?.close();
      return true;
    };
    const failWith = (error: ConnectError) => settle() && reject(error);
    const timer = setTimeout(
      () => failWith(new ConnectError("timeout", `No reply from ${peer} within ${options.timeoutMs}ms`)),
      options.timeoutMs,
    );
    connectUdp(
      {
        host: options.host,
        port: options.port,
        onError: (failure, text) => failWith(new ConnectError(failure, `Cannot connect to ${peer}: ${text}`)),
      },
      (data) => settle() && resolve(data),
    ).then(
      (socket) => {
        upstream = socket;
        if (settled) socket.close();
        else if (!socket.send(options.send)) failWith(new ConnectError("error", `Cannot send to ${peer}`));
      },
      (error) => failWith(error instanceof ConnectError ? error : connectFailed(options, error)),
    );
  });
}
