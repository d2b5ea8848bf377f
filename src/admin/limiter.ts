/**
 * Failed logins per client, in a fixed window with a bounded table: after
 * `maxFailures` in `windowMs` a client waits out the rest of the window.
 *
 * @module
 */
import { isIPv6 } from "../net/address.ts";
import { ipBytes } from "../net/cidr.ts";

/** Limits of a {@linkcode LoginLimiter}. */
export interface LimiterOptions {
  /** Attempts that fail within the window before the client is turned away (default 5). */
  readonly maxFailures?: number;
  /** Default one minute. */
  readonly windowMs?: number;
  /** Clients tracked at once (default 4096); the one whose window started first is forgotten to make room. */
  readonly maxClients?: number;
}

/**
 * What the limiter counts a client as: its IP, an IPv6 address by its /64
 * (one host usually holds a whole /64, and could otherwise try from each address in it).
 */
export function clientKey(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const bytes = ipBytes(ip)!;
  if (bytes.length === 4) return bytes.join(".");
  const groups = [0, 2, 4, 6].map((i) => ((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return `${groups.join(":")}::/64`;
}

/**
 * Counts every attempt as a failure until it is proven good ({@linkcode LoginLimiter.succeeded}),
 * so that guesses sent all at once cannot outrun the limit while their slow hashes run.
 *
 * @example
 * ```ts
 * const limiter = new LoginLimiter();
 * const wait = limiter.attempt("192.0.2.7", clock.now());
 * if (wait > 0) return tooMany(Math.ceil(wait / 1000));
 * if (await good()) limiter.succeeded("192.0.2.7");
 * ```
 */
export class LoginLimiter {
  private readonly table = new Map<string, { start: number; count: number }>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxClients: number;

  constructor(options: LimiterOptions = {}) {
    this.maxFailures = options.maxFailures ?? 5;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxClients = options.maxClients ?? 4096;
  }

  /** Clients in the table. */
  get size(): number {
    return this.table.size;
  }

  /** Milliseconds until `ip` may try again; 0 when it may now. Counts nothing. */
  wait(ip: string, now: number): number {
    const entry = this.table.get(clientKey(ip));
    if (!entry || now - entry.start >= this.windowMs || entry.count < this.maxFailures) return 0;
    return entry.start + this.windowMs - now;
  }

  /** Milliseconds until `ip` may try again; 0 when it may now, and then the attempt is counted. */
  attempt(ip: string, now: number): number {
    const key = clientKey(ip);
    const entry = this.table.get(key);
    if (entry && now - entry.start < this.windowMs) {
      if (entry.count >= this.maxFailures) return entry.start + this.windowMs - now;
      entry.count++;
      return 0;
    }
    // Re-inserted, so the table's order stays the order in which windows started.
    this.table.delete(key);
    if (this.table.size >= this.maxClients) this.table.delete(this.table.keys().next().value!);
    this.table.set(key, { start: now, count: 1 });
    return 0;
  }

  /** A good login: the client's attempts are forgotten. */
  succeeded(ip: string): void {
    this.table.delete(clientKey(ip));
  }
}
