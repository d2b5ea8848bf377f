import type { ParseResult } from "../net/address.ts";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
const BARE = /^\d+(?:\.\d+)?$/;

/** The longest duration a timer can hold (2^31-1 ms, about 24.8 days); longer ones would fire at once. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Parses a duration into whole milliseconds: a number of seconds (also as
 * text, `"0"` like `0`), or text such as `"250ms"`, `"5s"`, `"1m30s"`,
 * `"2h"`, `"1d"`. Zero means zero (a timeout turned off); anything else that
 * rounds to 0 ms, and anything above {@linkcode MAX_DURATION_MS}, is refused.
 *
 * @example
 * ```ts
 * parseDuration("1m30s"); // { ok: true, value: 90000 }
 * parseDuration(2.5); // { ok: true, value: 2500 }
 * parseDuration("0.0001"); // { ok: false, reason: "... rounds to 0ms ..." }
 * ```
 */
export function parseDuration(input: string | number): ParseResult<number> {
  const shown = JSON.stringify(input);
  let exact: number;
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) {
      return { ok: false, reason: `expected a non-negative number of seconds, got ${input}` };
    }
    exact = input * 1000;
  } else {
    const text = input.trim();
    if (BARE.test(text)) exact = Number(text) * 1000;
    else {
      exact = 0;
      PART.lastIndex = 0;
      let matched = 0;
      while (PART.lastIndex < text.length) {
        const m = PART.exec(text);
        if (!m) break;
        exact += Number(m[1]) * UNIT_MS[m[2]];
        matched = PART.lastIndex;
      }
      if (text === "" || matched !== text.length) {
        return {
          ok: false,
          reason: `expected a duration like "500ms", "5s", "1m30s", "1d" or a number of seconds, got ${shown}`,
        };
      }
    }
  }
  const value = Math.round(exact);
  if (value === 0 && exact > 0) {
    return { ok: false, reason: `${shown} rounds to 0ms; use 0 to turn it off, or at least "1ms"` };
  }
  if (value > MAX_DURATION_MS) {
    return { ok: false, reason: `must be at most ${MAX_DURATION_MS}ms (about 24.8 days), got ${shown}` };
  }
  return { ok: true, value };
}
