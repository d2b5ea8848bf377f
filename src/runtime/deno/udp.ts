/**
 * Deno UDP: `Deno.listenDatagram` (behind the `net` unstable flag) with a
 * receive loop into one reused buffer, each datagram copied out at its own
 * size. Deno cannot connect a datagram socket, so an upstream socket binds
 * an ephemeral port of the peer's family and drops datagrams from anyone
 * else; ICMP port unreachable is never reported (probes time out instead).
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { isIPv4, isIPv6 } from "../../net/address.ts";
import { normalizeIp, socketAddress } from "../_address.ts";
import { connectFailed, connectFailureOf, errorText, listenError } from "../_errors.ts";
import { destinationHost, isIpv6Host, MAX_DATAGRAM_V6, maxDatagram, wildcardFor } from "../_udp.ts";
import type { ConnectUdpOptions, ListenUdpOptions, SocketAddress, UdpListener, UdpUpstream } from "../types.ts";

/** Room for the largest datagram either family carries; Deno truncates silently past the buffer. */
const RECEIVE_BUFFER = MAX_DATAGRAM_V6 + 9;

/** Whether this Deno offers `Deno.listenDatagram` (only with the `net` unstable flag). */
export function hasDatagrams(): boolean {
  return typeof (Deno as unknown as Record<string, unknown>).listenDatagram === "function";
}

function bind(hostname: string, port: number): Deno.DatagramConn {
  if (!hasDatagrams()) throw new Error("Deno.listenDatagram is missing: run with --unstable-net");
  return Deno.listenDatagram({ transport: "udp", hostname, port });
}

/**
 * Receives until the socket is closed: every datagram goes to `deliver` in
 * a buffer of its own. Other errors go to `onError` and the loop goes on,
 * after a short pause so a failing socket cannot spin.
 */
async function receiveLoop(
  conn: Deno.DatagramConn,
  isOpen: () => boolean,
  deliver: (data: Uint8Array, from: Deno.NetAddr) => void,
  onError: (error: unknown) => void,
): Promise<void> {
  const buffer = new Uint8Array(RECEIVE_BUFFER);
  while (isOpen()) {
    let received: [Uint8Array, Deno.Addr];
    try {
      received = await conn.receive(buffer);
    } catch (error) {
      if (!isOpen() || error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) return;
      onError(error);
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    deliver(received[0].slice(), received[1] as Deno.NetAddr);
  }
}

/** Bytes a socket may hold in its send queue; past that, `send` answers false as a full buffer would. */
const SEND_QUEUE_BYTES = 1 << 20;

/** Sent entries a queue drops at once. */
const COMPACT_AT = 1024;

/**
 * Sends one datagram at a time: Deno delivers concurrent sends on one
 * socket out of order (a burst arrives reversed, checked on Deno 2.9),
 * while sends chained one after another keep their order at the same speed.
 */
class SendQueue {
  private readonly conn: Deno.DatagramConn;
  private readonly onError: (error: unknown) => void;
  private readonly data: Uint8Array[] = [];
  private readonly to: Deno.NetAddr[] = [];
  private head = 0;
  private bytes = 0;
  private sending = false;

  constructor(conn: Deno.DatagramConn, onError: (error: unknown) => void) {
    this.conn = conn;
    this.onError = onError;
  }

  /** Queues one datagram; false when the queue is full. */
  push(data: Uint8Array, to: Deno.NetAddr): boolean {
    if (this.bytes + data.length > SEND_QUEUE_BYTES) return false;
    this.data.push(data);
    this.to.push(to);
    this.bytes += data.length;
    if (!this.sending) this.pump();
    return true;
  }

  private async pump(): Promise<void> {
    this.sending = true;
    while (this.head < this.data.length) {
      const data = this.data[this.head];
      const to = this.to[this.head];
      if (++this.head === COMPACT_AT) this.compact();
      try {
        await this.conn.send(data, to);
      } catch (error) {
        if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) break;
        this.onError(error);
      }
      this.bytes -= data.length;
    }
    this.head = 0;
    this.bytes = 0;
    this.data.length = 0;
    this.to.length = 0;
    this.sending = false;
  }

  /** Drops the sent entries, so a queue that never empties does not keep them. */
  private compact(): void {
    this.data.splice(0, this.head);
    this.to.splice(0, this.head);
    this.head = 0;
  }
}

function closeConn(conn: Deno.DatagramConn): void {
  try {
    conn.close();
  } catch {
    // BadResource: closed already.
  }
}

class DenoUdpListener implements UdpListener {
  readonly address: SocketAddress;
  private readonly conn: Deno.DatagramConn;
  private readonly ipv6: boolean;
  private readonly max: number;
  private readonly sends: SendQueue;
  private open = true;
  private receiving: Promise<void> = Promise.resolve();

  constructor(conn: Deno.DatagramConn, ipv6: boolean, onError: ((error: string) => void) | undefined) {
    this.conn = conn;
    this.ipv6 = ipv6;
    this.max = maxDatagram(ipv6);
    const bound = conn.addr as Deno.NetAddr;
    this.address = socketAddress(bound.hostname, bound.port);
    this.sends = new SendQueue(conn, (error) => {
      if (this.open) onError?.(errorText(error));
    });
  }

  start(onDatagram: (data: Uint8Array, from: SocketAddress) => void, onError: (error: unknown) => void): void {
    this.receiving = receiveLoop(
      this.conn,
      () => this.open,
      (data, from) => onDatagram(data, { host: normalizeIp(from.hostname), port: from.port }),
      onError,
    );
  }

  /** Deno sends asynchronously: a later failure reaches `onError`, not the return value. */
  send(data: Uint8Array, to: SocketAddress): boolean {
    if (!this.open || data.length > this.max) return false;
    return this.sends.push(data, { transport: "udp", hostname: destinationHost(this.ipv6, to.host), port: to.port });
  }

  /** Resolves once the receive loop has ended, so the port is free again for the next bind. */
  close(): Promise<void> {
    if (this.open) {
      this.open = false;
      closeConn(this.conn);
    }
    return this.receiving;
  }
}

/**
 * Binds with `Deno.listenDatagram`. `reusePort` is not passed on: Deno's
 * only option, `reuseAddress`, lets a second socket take every datagram
 * from the first instead of sharing them (checked on Deno 2.9).
 */
export function listenUdp(
  options: ListenUdpOptions,
  onDatagram: (data: Uint8Array, from: SocketAddress) => void,
): Promise<UdpListener> {
  let conn: Deno.DatagramConn;
  try {
    conn = bind(options.host, options.port);
  } catch (error) {
    return Promise.reject(listenError(options, error));
  }
  const listener = new DenoUdpListener(conn, isIpv6Host(options.host), options.onError);
  listener.start(onDatagram, (error) => options.onError?.(errorText(error)));
  return Promise.resolve(listener);
}

/** The text Deno reports for `ip` as a sender, so a source can be matched with one comparison. */
function reportedForm(ip: string): string {
  if (!isIPv6(ip) || ip.includes(".")) return normalizeIp(ip);
  // Deno prints IPv6 addresses compressed and lowercase, as the URL parser does.
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/** The peer's IP address: a literal as it is, a name through the system resolver (Deno.resolveDns skips /etc/hosts). */
async function resolvePeer(host: string): Promise<string> {
  if (isIPv4(host) || isIPv6(host)) return host;
  return (await lookup(host)).address;
}

class DenoUdpUpstream implements UdpUpstream {
  readonly local: SocketAddress;
  private readonly conn: Deno.DatagramConn;
  private readonly peer: Deno.NetAddr;
  private readonly max: number;
  private readonly sends: SendQueue;
  private open = true;

  constructor(conn: Deno.DatagramConn, peer: Deno.NetAddr, options: ConnectUdpOptions) {
    this.conn = conn;
    this.peer = peer;
    this.max = maxDatagram(isIpv6Host(peer.hostname));
    const bound = conn.addr as Deno.NetAddr;
    this.local = socketAddress(bound.hostname, bound.port);
    this.sends = new SendQueue(conn, (error) => {
      if (this.open) options.onError?.(connectFailureOf(error), errorText(error));
    });
  }

  start(onDatagram: (data: Uint8Array) => void, onError: (error: unknown) => void): void {
    const host = reportedForm(this.peer.hostname);
    const port = this.peer.port;
    receiveLoop(
      this.conn,
      () => this.open,
      (data, from) => {
        if (from.port === port && normalizeIp(from.hostname) === host) onDatagram(data);
      },
      onError,
    );
  }

  send(data: Uint8Array): boolean {
    if (!this.open || data.length > this.max) return false;
    return this.sends.push(data, this.peer);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    closeConn(this.conn);
  }
}

/**
 * Binds an ephemeral port on the peer's family (`0.0.0.0` or `::`) and keeps
 * only the peer's datagrams; rejects with a {@linkcode ConnectError} when the
 * name does not resolve or no socket can be had.
 */
export async function connectUdp(
  options: ConnectUdpOptions,
  onDatagram: (data: Uint8Array) => void,
): Promise<UdpUpstream> {
  let conn: Deno.DatagramConn;
  let peer: Deno.NetAddr;
  try {
    const ip = await resolvePeer(options.host);
    peer = { transport: "udp", hostname: ip, port: options.port };
    conn = bind(wildcardFor(ip), 0);
  } catch (error) {
    throw connectFailed(options, error);
  }
  const upstream = new DenoUdpUpstream(conn, peer, options);
  upstream.start(onDatagram, (error) => options.onError?.(connectFailureOf(error), errorText(error)));
  return upstream;
}
