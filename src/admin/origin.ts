/**
 * The rules that keep a web page from driving the admin server through a
 * visitor's browser: which Host headers are accepted (against DNS
 * rebinding), when a state-changing request counts as cross-origin, and
 * where a login may send the browser next. Pure functions on header values.
 *
 * @module
 */
import { isIPv4, isIPv6 } from "../net/address.ts";

/** Methods that change nothing; every other method is a mutation. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * True when the Host header names this server in a way a rebinding attacker
 * cannot: an IP literal (IPv4, or bracketed IPv6) or `localhost`, any port, or
 * one of `hosts` (an entry without a port matches any port). A page on
 * `evil.example` whose name was re-pointed at 127.0.0.1 still sends
 * `Host: evil.example`.
 *
 * @example
 * ```ts
 * hostAccepted("127.0.0.1:9090", []); // true
 * hostAccepted("evil.example:9090", []); // false
 * hostAccepted("sluice.example.com", ["sluice.example.com"]); // true
 * ```
 */
export function hostAccepted(host: string | undefined, hosts: readonly string[]): boolean {
  if (!host) return false;
  const text = host.toLowerCase();
  const v6 = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (v6) return isIPv6(v6[1]);
  const m = /^([^:]+)(?::\d{1,5})?$/.exec(text);
  if (!m) return false;
  const name = m[1];
  if (isIPv4(name) || name === "localhost") return true;
  return hosts.some((entry) => entry === name || entry === text);
}

/** The headers a browser adds to say where a request comes from; other clients send neither. */
export interface BrowserSigns {
  readonly origin?: string;
  readonly secFetchSite?: string;
  readonly host?: string;
}

/** True when the request carries either sign of a browser (`Origin`, `Sec-Fetch-Site`). */
export function fromBrowser(signs: BrowserSigns): boolean {
  return signs.origin !== undefined || signs.secFetchSite !== undefined;
}

/**
 * Why a mutation is refused as cross-origin, or undefined when it is not: an
 * `Origin` other than `http://<Host>`, or a `Sec-Fetch-Site` other than
 * `same-origin` or `none` (`same-site` is refused too: another port of the same
 * host, such as a proxied web app, is another origin).
 *
 * @example
 * ```ts
 * crossOrigin({ origin: "http://evil.example", host: "127.0.0.1:9090" }); // "Origin http://evil.example ..."
 * crossOrigin({ origin: "http://127.0.0.1:9090", host: "127.0.0.1:9090" }); // undefined
 * ```
 */
export function crossOrigin(signs: BrowserSigns): string | undefined {
  const { origin, secFetchSite, host } = signs;
  if (origin !== undefined && origin.toLowerCase() !== `http://${(host ?? "").toLowerCase()}`) {
    return `cross-origin request refused: Origin ${origin} is not http://${host ?? ""}`;
  }
  if (secFetchSite !== undefined && secFetchSite !== "same-origin" && secFetchSite !== "none") {
    return `cross-origin request refused: Sec-Fetch-Site is ${secFetchSite}`;
  }
  return undefined;
}

/**
 * Where a login may redirect to: a path on this server, else `/`. Anything
 * that a browser could read as another host (`//evil`, `/\evil`, a scheme)
 * falls back to `/`, so the login form cannot be used as an open redirect.
 *
 * @example
 * ```ts
 * safeNext("/api/v1/stats?format=csv"); // "/api/v1/stats?format=csv"
 * safeNext("//evil.example/"); // "/"
 * ```
 */
export function safeNext(next: string | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || /[\\\p{Cc}]/u.test(next)) return "/";
  try {
    const url = new URL(next, "http://sluice.invalid");
    // Dot segments collapse in parsing ("/.//evil.example" -> "//evil.example"): check what came out.
    const path = url.pathname + url.search;
    return url.origin === "http://sluice.invalid" && !path.startsWith("//") ? path : "/";
  } catch {
    return "/";
  }
}
