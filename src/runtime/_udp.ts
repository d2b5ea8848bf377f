/**
 * What every adapter's UDP sockets decide the same way: the address family
 * of a host, the wildcard to bind an ephemeral socket on, the largest
 * datagram a family can carry, and how an IPv6 socket addresses an IPv4
 * sender. Only adapters import this file.
 *
 * @module
 */
import { isIPv4 } from "../net/address.ts";

/** The largest UDP payload over IPv4: 65,535 minus the 20-byte IP and 8-byte UDP headers. */
export const MAX_DATAGRAM_V4 = 65_507;

/** The largest UDP payload over IPv6 without jumbograms: 65,535 minus the 8-byte UDP header. */
export const MAX_DATAGRAM_V6 = 65_527;

/**
 * Whether a socket for `host` is an IPv6 one: an IPv6 literal contains ':'
 * (host names are taken as IPv4, as the runtimes' own defaults do).
 *
 * @example
 * ```ts
 * isIpv6Host("::1"); // true
 * isIpv6Host("127.0.0.1"); // false
 * ```
 */
export function isIpv6Host(host: string): boolean {
  return host.includes(":");
}

/**
 * The wildcard address of `host`'s family, for an ephemeral socket that talks to it.
 *
 * @example
 * ```ts
 * wildcardFor("10.0.0.5"); // "0.0.0.0"
 * wildcardFor("fd00::5"); // "::"
 * ```
 */
export function wildcardFor(host: string): string {
  return isIpv6Host(host) ? "::" : "0.0.0.0";
}

/**
 * The largest datagram a socket of this family sends; larger ones are
 * refused up front (the runtimes would throw or fail later with EMSGSIZE).
 *
 * @example
 * ```ts
 * maxDatagram(false); // 65507
 * ```
 */
export function maxDatagram(ipv6: boolean): number {
  return ipv6 ? MAX_DATAGRAM_V6 : MAX_DATAGRAM_V4;
}

/**
 * The destination an IPv6 socket must be given for `host`: senders are
 * reported with the IPv4-mapped prefix stripped, and Node refuses a plain
 * IPv4 address on an IPv6 socket (EINVAL), so the prefix goes back on.
 *
 * @example
 * ```ts
 * destinationHost(true, "127.0.0.1"); // "::ffff:127.0.0.1"
 * destinationHost(false, "127.0.0.1"); // "127.0.0.1"
 * destinationHost(true, "::1"); // "::1"
 * ```
 */
export function destinationHost(ipv6Socket: boolean, host: string): string {
  return ipv6Socket && isIPv4(host) ? `::ffff:${host}` : host;
}
