/**
 * `[listeners.health]`: active health checks of a listener's backends, and
 * the bytes they send and expect, decoded once here.
 *
 * @module
 */
import * as v from "valibot";
import type { ParseResult } from "../net/address.ts";
import { duration, fromParse, integer } from "./_fields.ts";

/** What a check does. */
export const HEALTH_TYPES = ["connect", "send_expect", "http"] as const;
/** One of {@linkcode HEALTH_TYPES}. */
export type HealthType = (typeof HEALTH_TYPES)[number];

/** A listener's health checks, normalized. */
export interface HealthConfig {
  readonly type: HealthType;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Good checks in a row that bring a backend up. */
  readonly rise: number;
  /** Bad checks in a row that take it down. */
  readonly fall: number;
  /** Checks go to this port instead of the backend's traffic port. */
  readonly port: number | undefined;
  /** `send_expect`: bytes sent. */
  readonly send: Uint8Array | undefined;
  /** `send_expect`: bytes the reply must contain. */
  readonly expect: Uint8Array | undefined;
  /** `http`: the path requested. */
  readonly path: string;
  /** `http`: the Host header; the backend's address when not given. */
  readonly host: string | undefined;
  /** `http`: statuses counted as healthy, inclusive. */
  readonly expectStatus: readonly [number, number];
}

const ESCAPES: Record<string, string> = { r: "\r", n: "\n", t: "\t", "0": "\0", "\\": "\\" };

/**
 * Bytes from check text: `hex:` then hex digits, or text in which `\r`, `\n`,
 * `\t`, `\0`, `\\` and `\xNN` stand for themselves (TOML basic strings have
 * already turned them into characters; literal strings and the command line
 * have not).
 *
 * @example
 * ```ts
 * checkBytes("PING\\r\\n"); // { ok: true, value: Uint8Array [80, 73, 78, 71, 13, 10] }
 * checkBytes("hex:0d0a"); // { ok: true, value: Uint8Array [13, 10] }
 * ```
 */
export function checkBytes(text: string): ParseResult<Uint8Array> {
  if (text.startsWith("hex:")) {
    const hex = text.slice(4).replace(/\s+/g, "");
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) {
      return { ok: false, reason: `expected an even number of hex digits after "hex:", got ${JSON.stringify(text)}` };
    }
    return { ok: true, value: Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16)) };
  }
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  let literal = "";
  const flush = () => {
    for (const byte of encoder.encode(literal)) bytes.push(byte);
    literal = "";
  };
  for (let i = 0; i < text.length;) {
    const c = text[i];
    if (c !== "\\") {
      literal += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    const hex = text.slice(i + 2, i + 4);
    if (next === "x" && /^[0-9a-fA-F]{2}$/.test(hex)) {
      flush();
      bytes.push(parseInt(hex, 16)); // a byte, not a character
      i += 4;
    } else if (next !== undefined && ESCAPES[next] !== undefined) {
      literal += ESCAPES[next];
      i += 2;
    } else {
      const shown = JSON.stringify(text.slice(i, i + 2));
      return { ok: false, reason: `unknown escape ${shown}; use \\r \\n \\t \\0 \\\\ \\xNN or hex:` };
    }
  }
  flush();
  if (bytes.length === 0) return { ok: false, reason: "must not be empty" };
  return { ok: true, value: Uint8Array.from(bytes) };
}

function statusRange(value: string | number): ParseResult<readonly [number, number]> {
  const text = String(value).trim();
  const m = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(text);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m ? Number(m[2] ?? m[1]) : NaN;
  if (!m || lo < 100 || hi > 599 || lo > hi) {
    return { ok: false, reason: `expected a status or range like 200 or "200-399", got ${JSON.stringify(value)}` };
  }
  return { ok: true, value: [lo, hi] };
}

/** The schema of `[listeners.health]`. */
export const HealthSchema = v.strictObject({
  type: v.optional(v.picklist(HEALTH_TYPES)),
  interval: v.optional(duration({ min: 100 }), "5s"),
  timeout: v.optional(duration({ min: 1 }), "2s"),
  rise: v.optional(integer(1, 100), 2),
  fall: v.optional(integer(1, 100), 3),
  port: v.optional(integer(1, 65535)),
  send: v.optional(v.pipe(v.string(), fromParse(checkBytes))),
  expect: v.optional(v.pipe(v.string(), fromParse(checkBytes))),
  path: v.optional(
    v.pipe(v.string(), v.startsWith("/", 'must start with "/"'), v.regex(/^[^\s]*$/, "must not contain spaces")),
    "/",
  ),
  host: v.optional(v.pipe(v.string(), v.regex(/^[^\s]+$/, "must not contain spaces"))),
  expect_status: v.optional(v.pipe(v.union([v.string(), v.number()]), fromParse(statusRange)), "200-399"),
});

/** The validated, defaulted shape of `[listeners.health]`. */
export type RawHealth = v.InferOutput<typeof HealthSchema>;

/** Maps the validated section to a {@linkcode HealthConfig}; `udp` listeners can only send and expect. */
export function normalizeHealth(raw: RawHealth, protocol: "tcp" | "udp"): HealthConfig {
  return {
    type: raw.type ?? (protocol === "udp" ? "send_expect" : "connect"),
    intervalMs: raw.interval,
    timeoutMs: raw.timeout,
    rise: raw.rise,
    fall: raw.fall,
    port: raw.port,
    send: raw.send,
    expect: raw.expect,
    path: raw.path,
    host: raw.host,
    expectStatus: raw.expect_status,
  };
}
