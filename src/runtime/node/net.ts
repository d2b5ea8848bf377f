/**
 * The Node {@linkcode NetPort}: `node:net` servers and sockets with
 * `allowHalfOpen`, a dial whose listeners are shared functions, and the relay
 * in `relay.ts`.
 *
 * @module
 */
import * as net from "node:net";
import { socketAddress } from "../_address.ts";
import { connectFailed, connectTimeout, errorText, listenError } from "../_errors.ts";
import type { ConnectTcpOptions, ListenTcpOptions, NetPort, TcpListener } from "../types.ts";
import { NodeConnection, onSocketError, PENDING, type RelayedSocket } from "./connection.ts";
import { probeTcp, probeUdp } from "./probe.ts";
import { NodeRelay } from "./relay.ts";
import { reusePort } from "./reuse-port.ts";
import { connectUdp, listenUdp } from "./udp.ts";

async function listenTcp(
  options: ListenTcpOptions,
  onConnection: (conn: NodeConnection) => void,
): Promise<TcpListener> {
  // pauseOnConnect: bytes that arrive before the relay wait in the kernel, which also bounds them.
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => {
    if (socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    socket.on("error", onSocketError);
    onConnection(new NodeConnection(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(listenError(options, error)));
    server.listen(
      { host: options.host, port: options.port, backlog: 4096, reusePort: options.reusePort === true },
      () => resolve(),
    );
  });
  // Accept-time errors (EMFILE) must not crash the process; the server keeps listening.
  server.on("error", (error) => options.onError?.(errorText(error)));
  const bound = server.address() as net.AddressInfo;
  return {
    address: socketAddress(bound.address, bound.port),
    // close() unbinds at once but calls back only when every connection has ended; do not wait for that.
    close: () => {
      if (server.listening) server.close();
      return Promise.resolve();
    },
  };
}

/** One connect in flight. Its listeners are shared module functions, not closures per attempt. */
export class PendingConnect {
  readonly options: ConnectTcpOptions;
  readonly promise: Promise<NodeConnection>;
  resolve!: (conn: NodeConnection) => void;
  reject!: (error: Error) => void;
  readonly socket: RelayedSocket;
  readonly timer: ReturnType<typeof setTimeout>;

  constructor(options: ConnectTcpOptions) {
    this.options = options;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.socket = net.connect({ host: options.host, port: options.port, allowHalfOpen: true, noDelay: true });
    this.socket[PENDING] = this;
    this.timer = setTimeout(onConnectTimeout, options.timeoutMs, this);
    this.socket.on("error", onSocketError);
    this.socket.on("connect", onConnected);
  }

  /** The dial failed with `error` (called by the socket's error listener). */
  failed(error: Error): void {
    this.socket[PENDING] = undefined;
    clearTimeout(this.timer);
    this.reject(connectFailed(this.options, error));
  }
}

function onConnectTimeout(pending: PendingConnect): void {
  pending.socket[PENDING] = undefined;
  pending.socket.destroy();
  pending.reject(connectTimeout(pending.options));
}

function onConnected(this: RelayedSocket): void {
  const pending = this[PENDING]!;
  this[PENDING] = undefined;
  clearTimeout(pending.timer);
  pending.resolve(new NodeConnection(this));
}

/**
 * Node sockets. Whether `reusePort` shares a port (Node >= 22.12 / 23.1 on Linux and a few BSDs) is what
 * `reuse-port.ts` found by binding twice; getters, because that probe finishes after this module loads.
 */
export const nodeNet: NetPort<NodeConnection> = {
  get supportsReusePort() {
    return reusePort.tcp;
  },
  listenTcp,
  connectTcp: (options) => new PendingConnect(options).promise,
  relayTcp: (client, upstream, tally) => new NodeRelay(client, upstream, tally),
  // Checked on Node 24: two sockets share a datagram port and the kernel spreads senders over both.
  get supportsUdpReusePort() {
    return reusePort.udp;
  },
  listenUdp,
  connectUdp,
  probeTcp,
  probeUdp,
};
