import { type Balancer, type BalancerFactory, usable } from "./types.ts";

/**
 * Smooth weighted round robin, as nginx does it: weights 5,1,1 give
 * a a b a c a a, spreading the heavy member out instead of bunching it.
 *
 * @example
 * ```ts
 * const b = weighted(members, { random: Math.random });
 * b.pick(0);
 * ```
 */
export const weighted: BalancerFactory = (members): Balancer => {
  const current = new Float64Array(members.length);
  return {
    pick(_key, tried, panic) {
      let total = 0;
      let best = -1;
      for (let i = 0; i < members.length; i++) {
        const member = members[i];
        if (!usable(member, tried, panic)) continue;
        current[i] += member.weight;
        total += member.weight;
        if (best < 0 || current[i] > current[best]) best = i;
      }
      if (best < 0) return undefined;
      current[best] -= total;
      return members[best];
    },
  };
};
