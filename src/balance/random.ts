import { type Balancer, type BalancerFactory, usable } from "./types.ts";

/**
 * Weighted random choice. Cumulative weights are computed once per snapshot;
 * a pick is one random number and a binary search. When the drawn member
 * cannot be used, the next usable one after it is taken.
 *
 * @example
 * ```ts
 * const b = random(members, { random: Math.random });
 * b.pick(0);
 * ```
 */
export const random: BalancerFactory = (members, options): Balancer => {
  const cumulative = new Float64Array(members.length);
  let total = 0;
  members.forEach((m, i) => (cumulative[i] = total += m.weight));
  return {
    pick(_key, tried, panic) {
      const n = members.length;
      if (n === 0) return undefined;
      const target = options.random() * total;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cumulative[mid] > target) hi = mid;
        else lo = mid + 1;
      }
      for (let i = 0; i < n; i++) {
        const member = members[(lo + i) % n];
        if (usable(member, tried, panic)) return member;
      }
      return undefined;
    },
  };
};
