/**
 * Socket addresses as the adapters report them. Only adapters import this file.
 *
 * @module
 */
import type { SocketAddress } from "../net/address.ts";

/**
 * Strips the IPv4-mapped prefix dual-stack sockets report.
 *
 * @example
 * ```ts
 * normalizeIp("::ffff:10.0.0.5"); // "10.0.0.5"
 * normalizeIp("::1"); // "::1"
 * ```
 */
export function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.indexOf(".") > 0 ? ip.slice(7) : ip;
}

/**
 * Builds a {@linkcode SocketAddress} from what a socket reports (either may be missing once it closed).
 *
 * @example
 * ```ts
 * socketAddress("::ffff:127.0.0.1", 8080); // { host: "127.0.0.1", port: 8080 }
 * ```
 */
export function socketAddress(host: string | undefined, port: number | undefined): SocketAddress {
  return { host: normalizeIp(host ?? ""), port: port ?? 0 };
}

/** The addresses in what `os.networkInterfaces()` returns (Node and Bun). */
export function interfaceAddresses(interfaces: Record<string, { address: string }[] | undefined>): string[] {
  return Object.values(interfaces).flatMap((list) => (list ?? []).map((i) => normalizeIp(i.address)));
}

/**
 * The addresses `list` finds, or none where the host will not tell (netlink blocked by a seccomp filter or a
 * sandbox): the self-loop check then sees loopback and wildcard addresses only, which is better than not starting.
 *
 * @example
 * ```ts
 * listedOrNone(() => interfaceAddresses(networkInterfaces())); // ["127.0.0.1", "::1", …] or []
 * ```
 */
export function listedOrNone(list: () => string[]): string[] {
  try {
    return list();
  } catch {
    return [];
  }
}
