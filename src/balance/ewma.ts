import { type Balancer, type BalancerFactory, type Member, usable } from "./types.ts";

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
export const ewma: BalancerFactory = (members, options): Balancer => {
  const cost = (m: Member, floor: number) => ((m.latencyMs || floor) + 0.1) * (m.active + 1) / m.weight;
  const fastest = () => {
    let min = Infinity;
    for (const m of members) if (m.latencyMs > 0 && m.latencyMs < min) min = m.latencyMs;
    return min === Infinity ? 1 : min;
  };
  const scan = (tried: readonly Member[] | undefined, panic: boolean | undefined, floor: number) => {
    let best: Member | undefined;
    for (const m of members) if (usable(m, tried, panic) && (!best || cost(m, floor) < cost(best, floor))) best = m;
    return best;
  };
  return {
    pick(_key, tried, panic) {
      const n = members.length;
      if (n < 2) return n === 1 && usable(members[0], tried, panic) ? members[0] : undefined;
      const i = Math.floor(options.random() * n);
      let j = Math.floor(options.random() * (n - 1));
      if (j >= i) j++;
      const a = members[i];
      const b = members[j];
      const aOk = usable(a, tried, panic);
      const bOk = usable(b, tried, panic);
      const floor = fastest();
      if (aOk && bOk) return cost(b, floor) < cost(a, floor) ? b : a;
      if (aOk) return a;
      if (bOk) return b;
      return scan(tried, panic, floor);
    },
  };
};
