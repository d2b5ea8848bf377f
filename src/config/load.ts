/**
 * Turning TOML text (or a plain object) into a {@linkcode Config}, or into
 * every error found, each naming its key path and reason.
 *
 * @module
 */
import * as v from "valibot";
import { parse as parseToml, TomlError } from "smol-toml";
import { formatAddress, isWildcardHost, type SocketAddress } from "../net/address.ts";
import { adminChecks, type EnvCredentials } from "./admin.ts";
import { selfLoops } from "./loops.ts";
import { type Config, type ConfigIssue, ConfigSchema, normalize, PROTOCOL_KEYS, type RawConfig } from "./schema.ts";

export type { ConfigIssue };

/** Outcome of loading a configuration. */
export type LoadResult = { ok: true; config: Config; warnings: ConfigIssue[] } | { ok: false; issues: ConfigIssue[] };

/** `source: path: message`, the form printed by `--validate`. */
export function formatIssue(source: string, issue: ConfigIssue): string {
  return issue.path ? `${source}: ${issue.path}: ${issue.message}` : `${source}: ${issue.message}`;
}

/** Parses TOML text into a plain document, or one issue pointing at the line and column. */
export function parseTomlDocument(
  text: string,
): { ok: true; document: Record<string, unknown> } | { ok: false; issues: ConfigIssue[] } {
  try {
    return { ok: true, document: parseToml(text) as Record<string, unknown> };
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = error.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
    return {
      ok: false,
      issues: [{
        path: "",
        message: `line ${error.line}, column ${error.column}: invalid TOML: ${reason}\n${quoted(error.codeblock)}`,
      }],
    };
  }
}

/** Keys whose values are never quoted back, even from a line that does not parse. */
const SECRET_LINE = /(password_hash|token|password)\s*=/;
/** Longest quoted line: a 1 MiB line is not worth echoing twice. */
const QUOTE_MAX = 200;

/** The parser's excerpt around an error, with secret lines redacted and long lines cut. */
function quoted(codeblock: string): string {
  return codeblock.split("\n").map((line) => {
    const secret = line.match(SECRET_LINE);
    if (secret) return line.slice(0, line.indexOf(secret[0]) + secret[0].length) + " <redacted>";
    return line.length > QUOTE_MAX ? line.slice(0, QUOTE_MAX) + "…" : line;
  }).join("\n");
}

/**
 * Parses and validates TOML text.
 *
 * @example
 * ```ts
 * const r = loadToml('[[listeners]]\nlisten = ":8080"\nbackends = [{ address = "10.0.0.5:80" }]');
 * if (r.ok) console.log(r.config.listeners[0].listen.port); // 8080
 * ```
 */
export function loadToml(text: string, options: LoadOptions = {}): LoadResult {
  const parsed = parseTomlDocument(text);
  return parsed.ok ? loadObject(parsed.document, options) : parsed;
}

/** What validation needs to know about the machine. */
export interface LoadOptions {
  /** This machine's interface addresses: a backend on one of them at a listener's port would loop. */
  readonly localHosts?: readonly string[];
  /** `WEB_USERNAME` and `WEB_PASSWORD`, which override the file's admin credentials. */
  readonly credentials?: EnvCredentials;
}

/** Validates an already-parsed document (TOML or built from the command line). */
export function loadObject(document: unknown, options: LoadOptions = {}): LoadResult {
  const result = v.safeParse(ConfigSchema, document);
  if (!result.success) return { ok: false, issues: result.issues.map(toConfigIssue) };
  const config = normalize(result.output, options.credentials);
  const issues = [
    ...protocolChecks(result.output),
    ...adminChecks(result.output.admin, options.credentials),
    ...crossChecks(config),
    ...selfLoops(config, options.localHosts ?? []),
  ];
  return issues.length ? { ok: false, issues } : { ok: true, config, warnings: warningsFor(config) };
}

/** Valid but probably not meant. */
function warningsFor(config: Config): ConfigIssue[] {
  return config.listeners.flatMap((listener, i) =>
    listener.balance === "round-robin" && listener.backends.some((b) => b.weight !== 1)
      ? [{ path: `listeners[${i}].balance`, message: `round-robin ignores weights; use "weighted" to honour them` }]
      : []
  );
}

type Issue = v.BaseIssue<unknown>;

function toConfigIssue(issue: Issue): ConfigIssue {
  const keys = (issue.path ?? []).map((item) => item.key as string | number);
  return { path: formatPath(keys), message: describeIssue(issue, keys) };
}

/** `["listeners", 1, "backends", 0, "address"]` -> `listeners[1].backends[0].address`. */
export function formatPath(keys: readonly (string | number)[]): string {
  return keys.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");
}

function describeIssue(issue: Issue, keys: readonly (string | number)[]): string {
  const got = issue.input === undefined ? "nothing" : JSON.stringify(issue.input);
  switch (issue.type) {
    case "strict_object":
    case "object":
      // valibot reports an unknown key as a key whose schema is `never`.
      if (issue.expected === "never") {
        return `unknown key; expected one of: ${allowedKeysAt(keys.slice(0, -1)).join(", ")}`;
      }
      return issue.input === undefined ? "is required" : `expected a table, got ${got}`;
    case "picklist":
      return `expected one of ${issue.expected?.replace(/[()]/g, "").split(" | ").join(", ")}; got ${got}`;
    case "integer":
      return `expected a whole number, got ${got}`;
    case "min_value":
      return `must be at least ${issue.requirement}, got ${got}`;
    case "max_value":
      return `must be at most ${issue.requirement}, got ${got}`;
    case "string":
    case "number":
    case "boolean":
    case "array":
      if (issue.input === undefined) return "is required";
      return `expected ${issue.type === "array" ? "an array" : `a ${issue.type}`}, got ${got}`;
    default:
      return issue.message;
  }
}

/** The keys the schema allows at a path, found by walking the schema itself. */
function allowedKeysAt(keys: readonly (string | number)[]): string[] {
  // deno-lint-ignore no-explicit-any
  let schema: any = ConfigSchema;
  // deno-lint-ignore no-explicit-any
  const unwrap = (s: any): any => (s?.wrapped ? unwrap(s.wrapped) : s?.pipe ? unwrap(s.pipe[0]) : s);
  for (const key of keys) {
    schema = unwrap(schema);
    schema = typeof key === "number" ? schema?.item : schema?.entries?.[key];
  }
  return Object.keys(unwrap(schema)?.entries ?? {});
}

/** Keys of the other protocol, and health checks a listener's protocol cannot run. */
function protocolChecks(raw: RawConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  raw.listeners.forEach((l, i) => {
    const at = `listeners[${i}]`;
    const other = l.protocol === "udp" ? "tcp" : "udp";
    for (const key of PROTOCOL_KEYS[other]) {
      if (l[key] !== undefined) {
        issues.push({
          path: `${at}.${key}`,
          message: `applies to ${other.toUpperCase()} listeners only; this one is ${l.protocol}`,
        });
      }
    }
    const health = l.health;
    if (!health) return;
    const type = health.type ?? (l.protocol === "udp" ? "send_expect" : "connect");
    if (l.protocol === "udp" && type !== "send_expect") {
      issues.push({
        path: `${at}.health.type`,
        message: `UDP listeners can only use "send_expect" checks, got "${type}"`,
      });
    }
    if (type === "send_expect") {
      if (!health.expect) issues.push({ path: `${at}.health.expect`, message: "is required for send_expect checks" });
      if (l.protocol === "udp" && !health.send) {
        issues.push({ path: `${at}.health.send`, message: "is required for UDP checks (a datagram to send)" });
      }
    } else {
      for (const key of ["send", "expect"] as const) {
        if (health[key] !== undefined) {
          issues.push({
            path: `${at}.health.${key}`,
            message: `applies to "send_expect" checks only; type is "${type}"`,
          });
        }
      }
    }
  });
  return issues;
}

/** Checks that span several keys: duplicate names, clashing addresses. */
function crossChecks(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const names = new Map<string, number>();
  const bound: { address: SocketAddress; path: string; protocol: string }[] = [];
  // A TCP and a UDP socket may share an address (DNS on 53 needs both).
  const clash = (address: SocketAddress, path: string, protocol: string) => {
    if (address.port === 0) return; // the OS picks distinct ports
    const other = bound.find((b) =>
      b.protocol === protocol && b.address.port === address.port &&
      (b.address.host === address.host || isWildcardHost(b.address.host) || isWildcardHost(address.host))
    );
    if (other) {
      issues.push({
        path,
        message: `${formatAddress(address)} overlaps ${other.path} (${formatAddress(other.address)})`,
      });
    }
    bound.push({ address, path, protocol });
  };
  config.listeners.forEach((listener, i) => {
    const seen = names.get(listener.name);
    if (seen !== undefined) {
      issues.push({
        path: `listeners[${i}].name`,
        message: `duplicate name "${listener.name}" (also listeners[${seen}])`,
      });
    } else names.set(listener.name, i);
    clash(listener.listen, `listeners[${i}].listen`, listener.protocol);
    const backends = new Map<string, number>();
    const backendNames = new Map<string, number>();
    listener.backends.forEach((backend, j) => {
      const key = formatAddress(backend.address);
      const first = backends.get(key);
      if (first !== undefined) {
        issues.push({
          path: `listeners[${i}].backends[${j}].address`,
          message: `duplicate backend ${key} (also backends[${first}]); raise its weight instead`,
        });
      } else {
        backends.set(key, j);
        // Names label metrics: two backends with one name would be two series with the same labels.
        const named = backendNames.get(backend.name);
        if (named !== undefined) {
          issues.push({
            path: `listeners[${i}].backends[${j}].name`,
            message: `duplicate name "${backend.name}" (also backends[${named}], by name or address)`,
          });
        } else backendNames.set(backend.name, j);
      }
    });
  });
  if (config.admin) clash(config.admin.listen, "admin.listen", "tcp");
  return issues;
}
