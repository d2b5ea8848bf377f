import { type Balancer, type BalancerFactory, usable } from "./types.ts";

/**
 * Plain rotation over the members, ignoring weights.
 *
 * @example
 * ```ts
 * const b = roundRobin(members, { random: Math.random });
 * b.pick(0); // members[0], then members[1], ...
 * ```
 */
export const roundRobin: BalancerFactory = (members): Balancer => {
  let next = 0;
  return {
    pick(_key, tried, panic) {
      const n = members.length;
      for (let i = 0; i < n; i++) {
        const index = (next + i) % n;
        const member = members[index];
        if (usable(member, tried, panic)) {
          next = (index + 1) % n;
          return member;
        }
      }
      return undefined;
    },
  };
};
