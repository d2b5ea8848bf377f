import { type Balancer, type BalancerFactory, lessLoaded, usable } from "./types.ts";

/**
 * Fewest active connections per unit of weight. The scan starts one further on
 * each pick, so ties rotate instead of always landing on the first member.
 *
 * @example
 * ```ts
 * const b = leastConn(members, { random: Math.random });
 * b.pick(0); // the member with the lowest active/weight
 * ```
 */
export const leastConn: BalancerFactory = (members): Balancer => {
  let start = 0;
  return {
    pick(_key, tried, panic) {
      const n = members.length;
      let best = undefined;
      for (let i = 0; i < n; i++) {
        const member = members[(start + i) % n];
        if (usable(member, tried, panic) && (best === undefined || lessLoaded(member, best))) best = member;
      }
      start = (start + 1) % n;
      return best;
    },
  };
};
