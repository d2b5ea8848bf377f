/**
 * The query of `/api/v1/connections`: every parameter checked, unknown ones
 * refused, so a typo is an error rather than a silently ignored filter.
 *
 * @module
 */
import { parseCidr } from "../net/cidr.ts";
import type { SessionFilter } from "../stats/table-view.ts";

/** The most sessions one list returns. */
export const MAX_LIST = 1000;

const KNOWN = [
  "limit",
  "source",
  "client_contains",
  "listener",
  "backend",
  "backend_contains",
  "state",
  "protocol",
  "sort",
];
const STATES = ["connecting", "relaying", "closed"] as const;
const PROTOCOLS = ["tcp", "udp"] as const;
/** How a connection table can be sorted. */
export const SORTS = ["bytes", "duration"] as const;

/**
 * `value` if it is one of `allowed`, undefined if absent, or an error naming the parameter.
 *
 * @example
 * ```ts
 * oneOf("sort", "size", SORTS); // { error: 'sort must be one of bytes, duration, got "size"' }
 * ```
 */
export function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined | { error: string } {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  return { error: `${name} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}` };
}

/**
 * Reads `limit` and the filters, or says what is wrong.
 *
 * @example
 * ```ts
 * connectionsQuery({ source: "10.0.0.0/8", sort: "bytes" }); // { limit: 100, filter: { source: "10.0.0.0/8", sort: "bytes" } }
 * connectionsQuery({ sort: "size" }); // { error: 'sort must be one of bytes, duration, got "size"' }
 * ```
 */
export function connectionsQuery(
  query: Record<string, string>,
): { limit: number; filter: SessionFilter } | { error: string } {
  const unknown = Object.keys(query).filter((k) => !KNOWN.includes(k));
  if (unknown.length) return { error: `unknown query parameter "${unknown[0]}"; known: ${KNOWN.join(", ")}` };
  const raw = query.limit ?? "100";
  if (!/^\d+$/.test(raw) || +raw < 1 || +raw > MAX_LIST) {
    return { error: `limit must be a whole number from 1 to ${MAX_LIST}, got ${JSON.stringify(raw)}` };
  }
  if (query.source !== undefined) {
    const parsed = parseCidr(query.source);
    if (!parsed.ok) return { error: `source: ${parsed.reason}` };
  }
  const state = oneOf("state", query.state, STATES);
  const protocol = oneOf("protocol", query.protocol, PROTOCOLS);
  const sort = oneOf("sort", query.sort, SORTS);
  for (const checked of [state, protocol, sort]) if (typeof checked === "object") return checked;
  return {
    limit: Number(raw),
    filter: {
      source: query.source,
      clientContains: query.client_contains || undefined,
      listener: query.listener,
      backend: query.backend,
      backendContains: query.backend_contains || undefined,
      state: state as SessionFilter["state"],
      protocol: protocol as SessionFilter["protocol"],
      sort: sort as SessionFilter["sort"],
    },
  };
}
