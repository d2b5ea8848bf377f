/**
 * Numbers as the status page shows them: short, with units, in the same
 * width class (tabular figures do the rest).
 *
 * @module
 */

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * Bytes with a binary unit, three significant figures.
 *
 * @example
 * ```ts
 * bytes(1536); // "1.50 KiB"
 * ```
 */
export function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  // Past the largest unit, toPrecision would switch to exponent form.
  return `${value >= 1000 ? Math.round(value) : value.toPrecision(3)} ${BYTE_UNITS[unit]}`;
}

/** Bytes per second. */
export function byteRate(n: number): string {
  return `${bytes(n)}/s`;
}

/**
 * A count with thin grouping, or a rate with one decimal below ten.
 *
 * @example
 * ```ts
 * count(1234567); // "1,234,567"
 * count(2.25); // "2.3"
 * ```
 */
export function count(n: number): string {
  if (!Number.isInteger(n) && Math.abs(n) < 10) return n.toFixed(1);
  return Math.round(n).toLocaleString("en-US");
}

/**
 * A duration in seconds as its two largest units.
 *
 * @example
 * ```ts
 * duration(3725); // "1h 2m"
 * duration(42); // "42s"
 * ```
 */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** Milliseconds, to two decimals below ten. */
export function millis(ms: number): string {
  // Below 9.995 two decimals still round under 10.
  return ms < 9.995 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
}
