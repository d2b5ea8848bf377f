import { type Balancer, type BalancerFactory, lessLoaded, type Member, usable } from "./types.ts";

/**
 * Power of two choices: draw two distinct members at random and take the one
 * with fewer active connections per unit of weight. Nearly as even as
 * least-conn without scanning, and without least-conn's herd on a new member.
 *
 * @example
 * ```ts
 * const b = p2c(members, { random: Math.random });
 * b.pick(0);
 * ```
 */
export const p2c: BalancerFactory = (members, options): Balancer => {
  const fallbackScan = (tried: readonly Member[] | undefined, panic: boolean | undefined): Member | undefined => {
    let best: Member | undefined;
    for (const member of members) {
      if (usable(member, tried, panic) && (best === undefined || lessLoaded(member, best))) best = member;
    }
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
      if (aOk && bOk) return lessLoaded(b, a) ? b : a;
      if (aOk) return a;
      if (bOk) return b;
      return fallbackScan(tried, panic);
    },
  };
};
