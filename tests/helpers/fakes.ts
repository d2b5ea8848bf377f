/** In-memory fakes for core tests: seeded randomness and balancer members. */
import type { Member } from "../../src/balance/types.ts";

/** mulberry32: a small seeded PRNG so random strategies are repeatable in tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Members named a, b, c... with the given weights, all eligible and idle. */
export function fakeMembers(...weights: number[]): Member[] {
  return weights.map((weight, i) => ({ key: String.fromCharCode(97 + i), weight, active: 0, eligible: true }));
}

/** Counts picks per member key. */
export function tally(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const k of keys) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
}
