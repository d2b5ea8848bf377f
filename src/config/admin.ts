/**
 * `[admin]` credentials and safety settings: who may use the admin server and
 * under which host names, with the rule that an admin server reachable from
 * other machines must have credentials. Secrets are never quoted in messages.
 *
 * @module
 */
import * as v from "valibot";
import { isIPv4, isIPv6, isValidHost, type SocketAddress } from "../net/address.ts";
import { ipBytes } from "../net/cidr.ts";
import { parsePasswordHash } from "./password-hash.ts";
import type { ConfigIssue } from "./_fields.ts";

/** Credentials from the environment (`WEB_USERNAME`, `WEB_PASSWORD`); they override the file's. */
export interface EnvCredentials {
  readonly username?: string;
  /** Plain text; hashed once by the admin server at start. */
  readonly password?: string;
}

/** Who may use the admin server. */
export interface AdminAuth {
  /** Login name for the form and Basic auth; null when only a token is set. */
  readonly username: string | null;
  /** `pbkdf2-sha256$...` from `password_hash`; null when the password came from `WEB_PASSWORD`. */
  readonly passwordHash: string | null;
  /** `WEB_PASSWORD` as given: never show it; the admin server hashes it once at start. */
  readonly password: string | null;
  /** Bearer token for API clients; null when not set. */
  readonly token: string | null;
}

/** The normalized `[admin]` section (when enabled). */
export interface AdminConfig {
  readonly listen: SocketAddress;
  /** null: no credentials, so the admin server listens on loopback only. */
  readonly auth: AdminAuth | null;
  /** `/metrics` without credentials even when they are set. */
  readonly publicMetrics: boolean;
  /** Host names (lower case, `name` or `name:port`) accepted in the Host header besides IP literals and localhost. */
  readonly hosts: readonly string[];
}

/** Bearer tokens shorter than this are guessable. */
export const MIN_TOKEN_LENGTH = 16;

// A custom string check: valibot's own would quote the value, and these values are secrets.
const secretText = v.custom<string>((input) => typeof input === "string", "expected a string");

const USERNAME = /^[^\p{Cc}:]{1,64}$/u;
const HOST_ENTRY = /^([^:]+)(?::(\d{1,5}))?$/;

/** The keys `[admin]` gains for credentials and safety, spread into its schema. */
export const ADMIN_AUTH_ENTRIES = {
  // Basic auth splits "user:password" at the first colon, so a name cannot hold one.
  username: v.optional(
    v.pipe(v.string(), v.regex(USERNAME, "must be 1-64 characters, without ':' or control characters")),
  ),
  password_hash: v.optional(v.pipe(
    secretText,
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const parsed = parsePasswordHash(dataset.value);
      if (!parsed.ok) addIssue({ message: parsed.reason });
    }),
  )),
  token: v.optional(v.pipe(
    secretText,
    v.check(
      (t) => t.length >= MIN_TOKEN_LENGTH && t.length <= 1024,
      (issue) => `must be ${MIN_TOKEN_LENGTH} to 1024 characters, got ${(issue.input as string).length}`,
    ),
    // Sent as "Authorization: Bearer <token>": printable ASCII without spaces survives every client.
    v.check((t) => /^[\x21-\x7e]+$/.test(t), "must be printable ASCII without spaces"),
  )),
  public_metrics: v.optional(v.boolean(), false),
  hosts: v.optional(
    v.array(v.pipe(
      v.string(),
      v.check((h) => {
        const m = HOST_ENTRY.exec(h);
        return m !== null && isValidHost(m[1]) && (m[2] === undefined || +m[2] <= 65535);
      }, 'expected a host name or "name:port"'),
      v.toLowerCase(),
    )),
    [],
  ),
};

/** The raw `[admin]` section as the schema outputs it. */
export interface RawAdmin {
  readonly enabled: boolean;
  readonly listen: SocketAddress;
  readonly username?: string;
  readonly password_hash?: string;
  readonly token?: string;
  readonly public_metrics: boolean;
  readonly hosts: string[];
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  if (!isIPv4(host) && !isIPv6(host)) return false;
  const bytes = ipBytes(host)!;
  return bytes.length === 4 ? bytes[0] === 127 : bytes.every((b, i) => b === (i === 15 ? 1 : 0));
}

/** The credentials in force: the environment's over the file's (empty variables count as unset). */
function effective(raw: RawAdmin, env: EnvCredentials) {
  const username = env.username || raw.username;
  const password = env.password || undefined;
  return { username, password, passwordHash: password === undefined ? raw.password_hash : undefined };
}

/** The normalized section; null when the admin server is off. */
export function normalizeAdmin(raw: RawAdmin, env: EnvCredentials = {}): AdminConfig | null {
  if (!raw.enabled) return null;
  const { username, password, passwordHash } = effective(raw, env);
  const hasUser = username !== undefined && (password !== undefined || passwordHash !== undefined);
  const auth = hasUser || raw.token !== undefined
    ? {
      username: hasUser ? username! : null,
      passwordHash: hasUser ? passwordHash ?? null : null,
      password: hasUser ? password ?? null : null,
      token: raw.token ?? null,
    }
    : null;
  return { listen: raw.listen, auth, publicMetrics: raw.public_metrics, hosts: raw.hosts };
}

/** A name without a password (or the reverse), and an address others can reach with nothing to log in with. */
export function adminChecks(raw: RawAdmin, env: EnvCredentials = {}): ConfigIssue[] {
  if (!raw.enabled) return [];
  const issues: ConfigIssue[] = [];
  const { username, password, passwordHash } = effective(raw, env);
  if (username !== undefined && password === undefined && passwordHash === undefined) {
    issues.push({ path: "admin.password_hash", message: "is required with a username (or set WEB_PASSWORD)" });
  }
  if (username === undefined && (password !== undefined || passwordHash !== undefined)) {
    issues.push({
      path: "admin.username",
      message: `is required with ${password !== undefined ? "WEB_PASSWORD" : "admin.password_hash"} ` +
        "(or set WEB_USERNAME)",
    });
  }
  const admin = normalizeAdmin(raw, env);
  if (admin && admin.auth === null && !isLoopbackHost(admin.listen.host)) {
    issues.push({
      path: "admin.listen",
      message: `${admin.listen.host} is not a loopback address, and the admin server has no credentials: ` +
        "set admin.username and admin.password_hash (see sluice hash-password), WEB_USERNAME and WEB_PASSWORD, " +
        "or admin.token, or listen on 127.0.0.1",
    });
  }
  return issues;
}
