/**
 * Bun UDP: `Bun.udpSocket`. Each datagram arrives in a buffer of its own
 * (Bun does not reuse it). The upstream socket is connected to its peer, so
 * the kernel drops datagrams from anyone else, and an ICMP port unreachable
 * reaches the `error` handler as `ECONNREFUSED`.
 *
 * @module
 */
import { normalizeIp, socketAddress } from "../_address.ts";
import { connectFailed, connectFailureOf, errorText, listenError } from "../_errors.ts";
import { destinationHost, isIpv6Host, maxDatagram, wildcardFor } from "../_udp.ts";
import type { ConnectUdpOptions, ListenUdpOptions, SocketAddress, UdpListener, UdpUpstream } from "../types.ts";
import { bun, type BunUdpSocket } from "./api.ts";

/**
 * uSockets' LIBUS_SOCKET_REUSE_PORT: sets SO_REUSEPORT, and the kernel
 * spreads senders over the sockets sharing the port (checked on Bun 1.4;
 * `reusePort: true` is ignored by `Bun.udpSocket`).
 */
const REUSE_PORT_FLAG = 4;

/** The error out of Bun's `error(...)` call, whichever of its two shapes Bun used. */
function errorOf(first: unknown, second: unknown): unknown {
  return first instanceof Error || second === undefined ? first : second;
}

/** Sends through Bun, which throws when closed or the datagram is too large and answers false when it would block. */
function sent(result: boolean | number): boolean {
  return result !== false && result !== 0;
}

class BunUdpListener implements UdpListener {
  readonly address: SocketAddress;
  private readonly socket: BunUdpSocket;
  private readonly ipv6: boolean;
  private readonly max: number;

  constructor(socket: BunUdpSocket, ipv6: boolean) {
    this.socket = socket;
    this.ipv6 = ipv6;
    this.max = maxDatagram(ipv6);
    this.address = socketAddress(socket.address.address, socket.port);
  }

  send(data: Uint8Array, to: SocketAddress): boolean {
    if (data.length > this.max) return false;
    try {
      return sent(this.socket.send(data, to.port, destinationHost(this.ipv6, to.host)));
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    if (!this.socket.closed) this.socket.close();
    return Promise.resolve();
  }
}

/**
 * Binds with `Bun.udpSocket`; `reusePort` shares the port through the
 * uSockets flag Bun's own node:dgram uses.
 */
export async function listenUdp(
  options: ListenUdpOptions,
  onDatagram: (data: Uint8Array, from: SocketAddress) => void,
): Promise<UdpListener> {
  let socket: BunUdpSocket;
  try {
    socket = await bun().udpSocket({
      hostname: options.host,
      port: options.port,
      flags: options.reusePort ? REUSE_PORT_FLAG : 0,
      binaryType: "uint8array",
      socket: {
        data(_socket, data, port, address) {
          onDatagram(data, { host: normalizeIp(address), port });
        },
        // Without an error handler Bun turns an error (EMSGSIZE, ICMP from the error queue) into an uncaught one.
        error(first, second) {
          options.onError?.(errorText(errorOf(first, second)));
        },
      },
    });
  } catch (error) {
    throw listenError(options, error);
  }
  return new BunUdpListener(socket, isIpv6Host(options.host));
}

class BunUdpUpstream implements UdpUpstream {
  readonly local: SocketAddress;
  private readonly socket: BunUdpSocket;
  private readonly max: number;

  constructor(socket: BunUdpSocket, ipv6: boolean) {
    this.socket = socket;
    this.max = maxDatagram(ipv6);
    this.local = socketAddress(socket.address.address, socket.port);
  }

  send(data: Uint8Array): boolean {
    if (data.length > this.max) return false;
    try {
      return sent(this.socket.send(data));
    } catch {
      return false;
    }
  }

  close(): void {
    if (!this.socket.closed) this.socket.close();
  }
}

/**
 * Opens a Bun UDP socket on an ephemeral port of the peer's family,
 * connected to the peer; rejects with a {@linkcode ConnectError} when that fails.
 */
export async function connectUdp(
  options: ConnectUdpOptions,
  onDatagram: (data: Uint8Array) => void,
): Promise<UdpUpstream> {
  let socket: BunUdpSocket;
  try {
    socket = await bun().udpSocket({
      hostname: wildcardFor(options.host),
      port: 0,
      binaryType: "uint8array",
      connect: { hostname: options.host, port: options.port },
      socket: {
        data(_socket, data) {
          onDatagram(data);
        },
        error(first, second) {
          const error = errorOf(first, second);
          options.onError?.(connectFailureOf(error), errorText(error));
        },
      },
    });
  } catch (error) {
    throw connectFailed(options, error);
  }
  return new BunUdpUpstream(socket, isIpv6Host(options.host));
}
