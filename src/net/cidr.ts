/**
 * IP addresses and CIDR blocks, parsed once into bytes and matched without
 * allocating. IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) match IPv4 blocks.
 *
 * @module
 */
import { isIPv4, isIPv6, type ParseResult } from "./address.ts";

/** A parsed block: its network bytes (4 or 16) and prefix length. */
export interface Cidr {
  readonly bytes: Uint8Array;
  readonly prefix: number;
  /** The text it was parsed from, for messages and for sending to worker threads. */
  readonly text: string;
}

/** The bytes of an IP literal, or undefined when `ip` is not one. IPv4-mapped IPv6 becomes IPv4. */
export function ipBytes(ip: string): Uint8Array | undefined {
  if (isIPv4(ip)) return Uint8Array.from(ip.split(".").map(Number));
  if (!isIPv6(ip)) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return ipBytes(mapped[1]);
  // A dotted IPv4 tail is two 16-bit groups.
  const text = ip.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  const [head, tail] = text.split("::");
  const groups = (part: string | undefined) => (part ? part.split(":").map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const words = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 255;
  });
  return bytes;
}

/**
 * Parses `10.0.0.0/8`, `2001:db8::/32`, or a single address (a /32 or /128).
 *
 * @example
 * ```ts
 * const net = parseCidr("192.0.2.0/24");
 * if (net.ok) cidrContains(net.value, "192.0.2.7"); // true
 * ```
 */
export function parseCidr(text: string): ParseResult<Cidr> {
  const [ip, prefixText, extra] = text.split("/");
  const bytes = extra === undefined ? ipBytes(ip) : undefined;
  if (!bytes) {
    return {
      ok: false,
      reason: `expected an IP address or CIDR block such as "10.0.0.0/8", got ${JSON.stringify(text)}`,
    };
  }
  const max = bytes.length * 8;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) {
    return { ok: false, reason: `prefix must be 0-${max} in ${JSON.stringify(text)}` };
  }
  return { ok: true, value: { bytes, prefix, text } };
}

/** True when `ip` (a literal) lies in `cidr`. */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  const bytes = ipBytes(ip);
  if (!bytes || bytes.length !== cidr.bytes.length) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 255 : (0xff << (8 - bits)) & 255;
    if ((bytes[i] & mask) !== (cidr.bytes[i] & mask)) return false;
  }
  return true;
}
