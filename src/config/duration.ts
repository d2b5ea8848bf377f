import type { ParseResult } from "../net/address.ts";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/**
 * Parses a duration into milliseconds: a number of seconds, or text such as
 * `"250ms"`, `"5s"`, `"1m30s"`, `"2h"`.
 *
 * @example
 * ```ts
 * parseDuration("1m30s"); // { ok: true, value: 90000 }
 * parseDuration(2.5); // { ok: true, value: 2500 }
 * ```
 */
export function parseDuration(input: string | number): ParseResult<number> {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) {
      return { ok: false, reason: `expected a non-negative number of seconds, got ${input}` };
    }
    return { ok: true, value: Math.round(input * 1000) };
  }
  const text = input.trim();
  let total = 0;
  PART.lastIndex = 0;
  let matched = 0;
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text);
    if (!m) break;
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = PART.lastIndex;
  }
  if (text === "" || matched !== text.length) {
    return {
      ok: false,
      reason: `expected a duration like "500ms", "5s", "1m30s" or a number of seconds, got ${JSON.stringify(input)}`,
    };
  }
  return { ok: true, value: Math.round(total) };
}
