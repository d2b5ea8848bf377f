import { twoChoices } from "./_two-choices.ts";
import type { BalancerFactory, Member } from "./types.ts";

/**
 * Adaptive: power of two choices over a cost of latency x load. Each member's
 * cost is its moving average of connect (and health check) time, failures
 * counted as slow, times its active connections plus one, per unit of weight;
 * of two members drawn at random the cheaper wins. A slow backend gets less
 * traffic within seconds and more again once it speeds up. A member with no
 * samples yet costs as little as the fastest, so new backends are tried.
 *
 * @example
 * ```ts
 * const b = ewma(members, { random: Math.random });
 * b.pick(0);
 * ```
 */
export const ewma: BalancerFactory = (members, options) => {
  const fastest = () => {
    let min = Infinity;
    for (const m of members) if (m.latencyMs > 0 && m.latencyMs < min) min = m.latencyMs;
    return min === Infinity ? 1 : min;
  };
  const cost = (m: Member) => ((m.latencyMs || fastest()) + 0.1) * (m.active + 1) / m.weight;
  return twoChoices(members, options, (a, b) => cost(a) < cost(b));
};
