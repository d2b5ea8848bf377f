/** A host and port, parsed once from configuration or reported by a socket. */
export interface SocketAddress {
  readonly host: string;
  readonly port: number;
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True when `text` is a dotted-quad IPv4 address. */
export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/**
 * True when `text` is an IPv6 address (no brackets, no zone).
 *
 * @example
 * ```ts
 * isIPv6("::1"); // true
 * isIPv6("1.2.3.4"); // false
 * ```
 */
export function isIPv6(text: string): boolean {
  if (!text.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(text)) return false;
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const all = [...head, ...tail];
  let width = 0;
  for (let i = 0; i < all.length; i++) {
    const g = all[i];
    if (i === all.length - 1 && g.includes(".")) {
      if (!isIPv4(g)) return false;
      width += 2;
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) {
      width += 1;
    } else {
      return false;
    }
  }
  return halves.length === 2 ? width < 8 : width === 8;
}

/** True when `text` is an IP literal or a syntactically valid host name. */
export function isValidHost(text: string): boolean {
  return isIPv4(text) || isIPv6(text) || HOSTNAME.test(text);
}

/** Outcome of parsing an address: the value or a reason fit for an error message. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Options for {@linkcode parseAddress}. */
export interface ParseAddressOptions {
  /** Host used when the text is only `port` or `:port`; absent means the host is required. */
  defaultHost?: string;
  /** Whether port 0 (let the OS choose) is acceptable. */
  allowPortZero?: boolean;
}

/**
 * Parses `host:port`, `[v6]:port`, and with a default host also `:port` or `port`.
 *
 * @example
 * ```ts
 * parseAddress("10.0.0.5:80"); // { ok: true, value: { host: "10.0.0.5", port: 80 } }
 * parseAddress(":8080", { defaultHost: "0.0.0.0" }); // host "0.0.0.0"
 * ```
 */
export function parseAddress(text: string, options: ParseAddressOptions = {}): ParseResult<SocketAddress> {
  const shown = JSON.stringify(text);
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return { ok: false, reason: `expected "[ipv6]:port", got ${shown}` };
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!isIPv6(host)) return { ok: false, reason: `invalid IPv6 address in ${shown}` };
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0 || text.indexOf(":") !== colon) {
      if (options.defaultHost !== undefined && colon < 0) {
        if (!/^\d+$/.test(text)) return { ok: false, reason: `expected "[host:]port", got ${shown}` };
        host = options.defaultHost;
        portText = text;
      } else {
        return { ok: false, reason: `expected "host:port", got ${shown}` };
      }
    } else {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
      if (host === "") {
        if (options.defaultHost === undefined) return { ok: false, reason: `missing host in ${shown}` };
        host = options.defaultHost;
      } else if (!isValidHost(host)) {
        return { ok: false, reason: `invalid host ${JSON.stringify(host)} in ${shown}` };
      }
    }
  }
  if (!/^\d{1,5}$/.test(portText)) return { ok: false, reason: `invalid port in ${shown}` };
  const port = Number(portText);
  const min = options.allowPortZero ? 0 : 1;
  if (port < min || port > 65535) return { ok: false, reason: `port ${port} out of range ${min}-65535 in ${shown}` };
  return { ok: true, value: { host, port } };
}

/** Formats an address as `host:port`, bracketing IPv6 hosts. */
export function formatAddress(address: SocketAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** True for the any-address hosts that bind every interface. */
export function isWildcardHost(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "";
}
