/**
 * 32-bit string hashing for consistent hashing: FNV-1a over UTF-16 code
 * units, then murmur3's finalizer so that similar inputs (10.0.0.1, 10.0.0.2)
 * spread over the whole ring.
 *
 * @example
 * ```ts
 * hashKey("192.0.2.7"); // a stable number in [0, 2^32)
 * ```
 */
export function hashKey(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
