/**
 * The configuration schema: what `sluice.toml` may say, its defaults, and the
 * normalized types the rest of the program uses (durations in milliseconds,
 * addresses parsed once).
 *
 * @module
 */
import * as v from "valibot";
import { BALANCER_NAMES, type BalancerName } from "../balance/names.ts";
import { formatAddress, type SocketAddress } from "../net/address.ts";
import { address, type ConfigIssue, duration, integer, name } from "./_fields.ts";
import { ADMIN_AUTH_ENTRIES, type AdminConfig, type EnvCredentials, normalizeAdmin } from "./admin.ts";
import { type HealthConfig, HealthSchema, normalizeHealth } from "./health.ts";

export type { AdminConfig, HealthConfig };

export { BALANCER_NAMES, type BalancerName };

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
export const PROTOCOLS = ["tcp", "udp"] as const;
/** One of {@linkcode PROTOCOLS}. */
export type Protocol = (typeof PROTOCOLS)[number];

/** One listening address and the pool behind it. */
export interface ListenerConfig {
  /**
   * Identity across reloads: protocol and configured address (`tcp/0.0.0.0:80`);
   * a port-0 listener adds its name (`tcp/127.0.0.1:0#web`), or `#n` from the
   * second unnamed one on a host on. Otherwise the name is only a label.
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
  /** UDP: sessions past which a new client's datagrams are dropped (per thread). */
  readonly maxSessions: number;
  /** UDP: replies after which a session ends (nginx's `proxy_responses`); 0 for no limit. */
  readonly responses: number;
  /** UDP: client datagrams after which the next starts a new session (nginx's `proxy_requests`); 0 for no limit. */
  readonly requests: number;
  /** Active health checks; null when the listener has none (backends stay up). */
  readonly health: HealthConfig | null;
  /** Failed connects within `failTimeoutMs` that take a backend out for `failTimeoutMs`; 0 disables. */
  readonly maxFails: number;
  readonly failTimeoutMs: number;
  readonly backends: readonly BackendConfig[];
}

export type { ConfigIssue };

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
  /** Where the admin API and status page listen, and who may use them; null when turned off. */
  readonly admin: AdminConfig | null;
  /** Show client addresses masked (IPv4 /24, IPv6 /48) in the API and logs; per-IP logic still sees them whole. */
  readonly anonymizeIps: boolean;
  /** Where the minute history is saved every minute and on shutdown, and loaded from at start; null: nowhere. */
  readonly stats: { readonly stateFile: string | null };
  readonly listeners: readonly ListenerConfig[];
}

/** Default admin address: loopback only, since the API can change state. */
export const DEFAULT_ADMIN = "127.0.0.1:9090";

const BackendSchema = v.strictObject({
  address: address(),
  weight: v.optional(integer(1, 1000), 1),
  name: v.optional(name),
});

const ListenerSchema = v.strictObject({
  name: v.optional(name),
  protocol: v.optional(v.picklist(PROTOCOLS), "tcp"),
  listen: address({ allowPortZero: true, defaultHost: "0.0.0.0" }),
  // Smooth weighted round robin is plain rotation when weights are equal, so it is the safe default.
  balance: v.optional(v.picklist(BALANCER_NAMES), "weighted"),
  // Defaults that depend on the protocol are filled in by normalize(); crossChecks() refuses keys of the other one.
  connect_timeout: v.optional(duration({ min: 1 })),
  idle_timeout: v.optional(duration()),
  half_close_timeout: v.optional(duration()),
  retries: v.optional(integer(0, 10)),
  max_connections: v.optional(integer(0, 1_000_000)),
  max_sessions: v.optional(integer(1, 1_000_000)),
  responses: v.optional(integer(0, 1_000_000)),
  requests: v.optional(integer(0, 1_000_000)),
  health: v.optional(HealthSchema),
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
      ...ADMIN_AUTH_ENTRIES,
    }),
    {},
  ),
  anonymize_ips: v.optional(v.boolean(), false),
  stats: v.optional(
    v.strictObject({
      state_file: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
    }),
    {},
  ),
  listeners: v.pipe(v.array(ListenerSchema), v.minLength(1, "at least one listener is needed")),
});

/** The validated, defaulted shape of the document (before protocol defaults and normalization). */
export type RawConfig = v.InferOutput<typeof ConfigSchema>;

/** Keys that apply to one protocol only, for the cross-checks. */
export const PROTOCOL_KEYS = {
  tcp: ["connect_timeout", "half_close_timeout", "retries", "max_connections"],
  udp: ["max_sessions", "responses", "requests"],
} as const;

/** Maps the validated TOML shape (and credentials from the environment) to the normalized {@linkcode Config}. */
export function normalize(raw: RawConfig, env: EnvCredentials = {}): Config {
  const keys = new Map<string, number>();
  const keyOf = (protocol: Protocol, listen: SocketAddress, name: string | undefined) => {
    const base = `${protocol}/${formatAddress(listen)}`;
    if (listen.port !== 0) return base;
    // Port 0 means "any port", so the address alone does not tell listeners apart: a name does, and keeps
    // the identity when another port-0 listener is added or deleted; unnamed ones are told apart by order.
    if (name !== undefined) return `${base}#${name}`;
    const seen = keys.get(base) ?? 0;
    keys.set(base, seen + 1);
    return seen === 0 ? base : `${base}#${seen}`;
  };
  return {
    drainTimeoutMs: raw.drain_timeout,
    workers: raw.workers,
    log: { level: raw.log.level, format: raw.log.format },
    admin: normalizeAdmin(raw.admin, env),
    anonymizeIps: raw.anonymize_ips,
    stats: { stateFile: raw.stats.state_file ?? null },
    listeners: raw.listeners.map((l, i) => ({
      key: keyOf(l.protocol, l.listen, l.name),
      // A TCP and a UDP listener may share an address (DNS), so UDP names say so.
      name: l.name ??
        (l.listen.port === 0 ? `listener${i}` : `${l.protocol === "udp" ? "udp/" : ""}${formatAddress(l.listen)}`),
      protocol: l.protocol,
      listen: l.listen,
      balance: l.balance,
      connectTimeoutMs: l.connect_timeout ?? 5000,
      idleTimeoutMs: l.idle_timeout ?? (l.protocol === "udp" ? 60_000 : 600_000),
      halfCloseTimeoutMs: l.half_close_timeout ?? 30_000,
      retries: l.retries ?? 2,
      // As HAProxy's frontend maxconn: a bound on what one listener may hold, and on any forwarding loop.
      maxConnections: l.max_connections ?? 4096,
      maxSessions: l.max_sessions ?? 10_000,
      responses: l.responses ?? 0,
      requests: l.requests ?? 0,
      health: l.health ? normalizeHealth(l.health, l.protocol) : null,
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
