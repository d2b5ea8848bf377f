/**
 * Stable element ids for things the page refreshes: the same listener or
 * backend gets the same id on every refresh, so focus and typed text survive
 * a swap, and ids stay distinct even where two keys slug alike.
 *
 * @module
 */

/** FNV-1a, 32 bits, as 8 hex digits. */
function fnv(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

/**
 * An id made of a prefix, a readable slug and a hash of the parts.
 *
 * @example
 * ```ts
 * domId("b", "tcp/0.0.0.0:8080", "10.0.0.5:80"); // "b-tcp-0-0-0-0-8080-10-0-0-5-80-1f2e3d4c"
 * ```
 */
export function domId(prefix: string, ...parts: string[]): string {
  const joined = parts.join("\u0000");
  const slug = joined.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 48);
  return `${prefix}-${slug}-${fnv(joined)}`;
}
