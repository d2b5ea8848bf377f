/**
 * Client addresses as shown when `anonymize_ips` is on: IPv4 to its /24,
 * IPv6 to its /48 (IPv4-mapped IPv6 as IPv4). Only what is shown changes;
 * limits, hashing and filters still see the real address.
 *
 * @module
 */
import { formatAddress, isIPv4, isIPv6, type SocketAddress } from "./address.ts";
import { ipBytes } from "./cidr.ts";

/**
 * The host with its last bits zeroed: `192.0.2.77` -> `192.0.2.0`, `2001:db8:1:2::9` -> `2001:db8:1::`.
 *
 * @example
 * ```ts
 * maskHost("192.0.2.77"); // "192.0.2.0"
 * ```
 */
export function maskHost(host: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return maskHost(mapped[1]);
  if (isIPv4(host)) return host.replace(/\.\d+$/, ".0");
  if (!isIPv6(host)) return host;
  const bytes = ipBytes(host)!;
  const groups = [0, 2, 4].map((i) => ((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return `${groups.join(":")}::`;
}

/** `host:port` as shown: masked when `anonymize` is on. */
export function shownAddress(address: SocketAddress, anonymize: boolean): string {
  return formatAddress(anonymize ? { host: maskHost(address.host), port: address.port } : address);
}

/** The same for an address already formatted as `host:port` or `[v6]:port` (JSON from worker threads). */
export function maskFormatted(text: string): string {
  const m = /^\[(.+)\]:(\d+)$/.exec(text) ?? /^(.+):(\d+)$/.exec(text);
  return m ? shownAddress({ host: m[1], port: Number(m[2]) }, true) : text;
}
