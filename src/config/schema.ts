/**
 * The configuration schema: what `sluice.toml` may say, its defaults, and the
 * normalized types the rest of the program uses (durations in milliseconds,
 * addresses parsed once).
 *
 * @module
 */
import * as v from "valibot";
import {
  formatAddress,
  parseAddress,
  type ParseAddressOptions,
  type ParseResult,
  type SocketAddress,
} from "../net/address.ts";
import { parseDuration } from "./duration.ts";

/** Balancing strategies by the name used in config and on the command line (`src/balance/registry.ts` maps each). */
export const BALANCER_NAMES = ["round-robin", "weighted", "least-conn", "random", "p2c", "hash"] as const;
/** A strategy name accepted in configuration. */
export type BalancerName = (typeof BALANCER_NAMES)[number];

/** Log verbosity, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Log line formats. */
export const LOG_FORMATS = ["text", "json"] as const;
/** One of {@linkcode LOG_FORMATS}. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/** One backend of a listener's pool. */
export interface BackendConfig {
  readonly address: SocketAddress;
  readonly weight: number;
  /** A label for logs and stats; the address when not given. */
  readonly name: string;
}

/** Transport protocols a listener can speak. */
export type Protocol = "tcp";

/** One listening address and the pool behind it. */
export interface ListenerConfig {
  /**
   * Identity across reloads: protocol and configured address (`tcp/0.0.0.0:80`),
   * with `#n` added to the second and later port-0 listeners on one host. The
   * name is only a label.
   */
  readonly key: string;
  readonly name: string;
  readonly protocol: Protocol;
  readonly listen: SocketAddress;
  readonly balance: BalancerName;
  readonly connectTimeoutMs: number;
  /** 0 turns the idle timeout off. */
  readonly idleTimeoutMs: number;
  /** Replaces the idle timeout once either side has sent its FIN; 0 leaves the idle timeout in charge. */
  readonly halfCloseTimeoutMs: number;
  /** Further backends tried after a failed connect. */
  readonly retries: number;
  /** Live connections past which new clients are refused (per thread); 0 for no limit. */
  readonly maxConnections: number;
  /** Failed connects within `failTimeoutMs` that take a backend out for `failTimeoutMs`; 0 disables. */
  readonly maxFails: number;
  readonly failTimeoutMs: number;
  readonly backends: readonly BackendConfig[];
}

/** One problem in a configuration: where, and why. */
export interface ConfigIssue {
  /** Key path such as `listeners[1].backends[0].address`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

/** A backend's identity in a pool: its address as `host:port`. */
export function backendKey(backend: BackendConfig): string {
  return formatAddress(backend.address);
}

/** The whole, validated configuration. */
export interface Config {
  readonly drainTimeoutMs: number;
  /** Listener threads sharing each port. */
  readonly workers: number;
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
  /** Where the admin API and status page listen; null when turned off. */
  readonly admin: { readonly listen: SocketAddress } | null;
  readonly listeners: readonly ListenerConfig[];
}

/** Default admin address: loopback only, since the API can change state. */
export const DEFAULT_ADMIN = "127.0.0.1:9090";

const fromParse = <I, T>(parse: (value: I) => ParseResult<T>) =>
  v.rawTransform<I, T>(({ dataset, addIssue, NEVER }) => {
    const result = parse(dataset.value);
    if (result.ok) return result.value;
    addIssue({ message: result.reason });
    return NEVER;
  });

const address = (options: ParseAddressOptions = {}) =>
  v.pipe(v.string(), fromParse((text: string) => parseAddress(text, options)));

const duration = (options: { min?: number } = {}) =>
  v.pipe(
    v.union([v.number(), v.string()], 'expected a duration such as "5s" or a number of seconds'),
    fromParse((value: number | string): ParseResult<number> => {
      const parsed = parseDuration(value);
      if (parsed.ok && options.min !== undefined && parsed.value < options.min) {
        return { ok: false, reason: `must be at least ${options.min}ms, got ${JSON.stringify(value)}` };
      }
      return parsed;
    }),
  );

const integer = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const name = v.pipe(v.string(), v.regex(NAME, "must be 1-64 letters, digits or _.:- and start with a letter or digit"));

const BackendSchema = v.strictObject({
  address: address(),
  weight: v.optional(integer(1, 1000), 1),
  name: v.optional(name),
});

const ListenerSchema = v.strictObject({
  name: v.optional(name),
  listen: address({ allowPortZero: true, defaultHost: "0.0.0.0" }),
  // Smooth weighted round robin is plain rotation when weights are equal, so it is the safe default.
  balance: v.optional(v.picklist(BALANCER_NAMES), "weighted"),
  connect_timeout: v.optional(duration({ min: 1 }), "5s"),
  idle_timeout: v.optional(duration(), "10m"),
  half_close_timeout: v.optional(duration(), "30s"),
  retries: v.optional(integer(0, 10), 2),
  // As HAProxy's frontend maxconn: a bound on what one listener may hold, and on any forwarding loop.
  max_connections: v.optional(integer(0, 1_000_000), 4096),
  max_fails: v.optional(integer(0, 1000), 1),
  fail_timeout: v.optional(duration({ min: 1 }), "10s"),
  backends: v.pipe(v.array(BackendSchema), v.minLength(1, "a listener needs at least one backend")),
});

/** The schema of the TOML document; its output is the raw, defaulted shape. */
export const ConfigSchema = v.strictObject({
  drain_timeout: v.optional(duration(), "30s"),
  workers: v.optional(integer(1, 256), 1),
  log: v.optional(
    v.strictObject({
      level: v.optional(v.picklist(LOG_LEVELS), "info"),
      format: v.optional(v.picklist(LOG_FORMATS), "text"),
    }),
    {},
  ),
  admin: v.optional(
    v.strictObject({
      enabled: v.optional(v.boolean(), true),
      listen: v.optional(address({ allowPortZero: true, defaultHost: "127.0.0.1" }), DEFAULT_ADMIN),
    }),
    {},
  ),
  listeners: v.pipe(v.array(ListenerSchema), v.minLength(1, "at least one listener is needed")),
});

type RawConfig = v.InferOutput<typeof ConfigSchema>;

/** Maps the validated TOML shape to the normalized {@linkcode Config}. */
export function normalize(raw: RawConfig): Config {
  const keys = new Map<string, number>();
  const keyOf = (listen: SocketAddress) => {
    const base = `tcp/${formatAddress(listen)}`;
    const seen = keys.get(base) ?? 0;
    keys.set(base, seen + 1);
    return seen === 0 ? base : `${base}#${seen}`;
  };
  return {
    drainTimeoutMs: raw.drain_timeout,
    workers: raw.workers,
    log: { level: raw.log.level, format: raw.log.format },
    admin: raw.admin.enabled ? { listen: raw.admin.listen } : null,
    listeners: raw.listeners.map((l, i) => ({
      // Port 0 means "any port", so the address alone would not tell listeners apart.
      key: keyOf(l.listen),
      name: l.name ?? (l.listen.port === 0 ? `listener${i}` : formatAddress(l.listen)),
      protocol: "tcp" as const,
      listen: l.listen,
      balance: l.balance,
      connectTimeoutMs: l.connect_timeout,
      idleTimeoutMs: l.idle_timeout,
      halfCloseTimeoutMs: l.half_close_timeout,
      retries: l.retries,
      maxConnections: l.max_connections,
      maxFails: l.max_fails,
      failTimeoutMs: l.fail_timeout,
      backends: l.backends.map((b) => ({
        address: b.address,
        weight: b.weight,
        name: b.name ?? formatAddress(b.address),
      })),
    })),
  };
}
