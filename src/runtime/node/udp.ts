/**
 * Node UDP: `node:dgram` sockets. The upstream socket is connected to its
 * peer, so the kernel drops datagrams from anyone else and an ICMP port
 * unreachable comes back as an `ECONNREFUSED` error.
 *
 * @module
 */
import * as dgram from "node:dgram";
import { normalizeIp, socketAddress } from "../_address.ts";
import { connectFailed, connectFailureOf, errorText, listenError } from "../_errors.ts";
import { destinationHost, isIpv6Host, maxDatagram } from "../_udp.ts";
import type { ConnectUdpOptions, ListenUdpOptions, SocketAddress, UdpListener, UdpUpstream } from "../types.ts";

function socketType(host: string): dgram.SocketType {
  return isIpv6Host(host) ? "udp6" : "udp4";
}

/** Closes `socket` unless it is closed already; calls `done` once it is. */
export function closeSocket(socket: dgram.Socket, done?: () => void): void {
  try {
    socket.close(done);
  } catch {
    // ERR_SOCKET_DGRAM_NOT_RUNNING: closed already.
    done?.();
  }
}

class NodeUdpListener implements UdpListener {
  readonly address: SocketAddress;
  private readonly socket: dgram.Socket;
  private readonly ipv6: boolean;
  private readonly max: number;
  private open = true;

  constructor(socket: dgram.Socket, ipv6: boolean) {
    this.socket = socket;
    this.ipv6 = ipv6;
    this.max = maxDatagram(ipv6);
    const bound = socket.address();
    this.address = socketAddress(bound.address, bound.port);
  }

  /** Errors that come later (EMSGSIZE, ICMP for a sender that left) reach `onError` through the socket's error event. */
  send(data: Uint8Array, to: SocketAddress): boolean {
    if (!this.open || data.length > this.max) return false;
    try {
      this.socket.send(data, to.port, destinationHost(this.ipv6, to.host));
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    if (!this.open) return Promise.resolve();
    this.open = false;
    return new Promise((resolve) => closeSocket(this.socket, resolve));
  }
}

/**
 * Binds a `node:dgram` socket of the host's family, with `SO_REUSEPORT` when
 * asked (only where `reuse-port.ts` found it shares the port: Node before
 * 22.12 drops the option, and a second bind then fails).
 */
export async function listenUdp(
  options: ListenUdpOptions,
  onDatagram: (data: Uint8Array, from: SocketAddress) => void,
): Promise<UdpListener> {
  const ipv6 = isIpv6Host(options.host);
  const socket = dgram.createSocket({ type: socketType(options.host), reusePort: options.reusePort === true });
  await new Promise<void>((resolve, reject) => {
    const onBindError = (error: Error) => {
      closeSocket(socket);
      reject(listenError(options, error));
    };
    socket.once("error", onBindError);
    socket.bind(options.port, options.host, () => {
      socket.removeListener("error", onBindError);
      resolve();
    });
  });
  // Later errors do not close the socket; without a listener they would end the process.
  socket.on("error", (error) => options.onError?.(errorText(error)));
  socket.on("message", (data: Buffer, from: dgram.RemoteInfo) => {
    onDatagram(data, { host: normalizeIp(from.address), port: from.port });
  });
  return new NodeUdpListener(socket, ipv6);
}

class NodeUdpUpstream implements UdpUpstream {
  readonly local: SocketAddress;
  private readonly socket: dgram.Socket;
  private readonly max: number;
  private open = true;

  constructor(socket: dgram.Socket, ipv6: boolean) {
    this.socket = socket;
    this.max = maxDatagram(ipv6);
    const bound = socket.address();
    this.local = socketAddress(bound.address, bound.port);
  }

  send(data: Uint8Array): boolean {
    if (!this.open || data.length > this.max) return false;
    try {
      this.socket.send(data);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    closeSocket(this.socket);
  }
}

/**
 * Opens a `node:dgram` socket on an ephemeral port and connects it to the
 * peer; rejects with a {@linkcode ConnectError} when that fails (DNS, no
 * descriptor). An ICMP port unreachable later reaches `onError` as `refused`.
 */
export function connectUdp(options: ConnectUdpOptions, onDatagram: (data: Uint8Array) => void): Promise<UdpUpstream> {
  const ipv6 = isIpv6Host(options.host);
  const socket = dgram.createSocket({ type: socketType(options.host) });
  return new Promise((resolve, reject) => {
    const onConnectError = (error: Error) => {
      closeSocket(socket);
      reject(connectFailed(options, error));
    };
    socket.once("error", onConnectError);
    socket.connect(options.port, options.host, (error?: Error) => {
      if (error) return onConnectError(error);
      socket.removeListener("error", onConnectError);
      socket.on("error", (e: Error) => options.onError?.(connectFailureOf(e), errorText(e)));
      socket.on("message", (data: Buffer) => onDatagram(data));
      resolve(new NodeUdpUpstream(socket, ipv6));
    });
  });
}
