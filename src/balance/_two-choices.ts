import type { Balancer, BalancerOptions, Member } from "./types.ts";
import { usable } from "./types.ts";

/**
 * Power of two choices with a comparison of the strategy's own: draw two
 * distinct members at random and keep the one `better` prefers; when neither
 * may be used, scan for the best that may. `better(a, b)` is true when `a`
 * should win over `b`. Shared by `p2c` (load) and `ewma` (latency x load).
 *
 * @example
 * ```ts
 * const b = twoChoices(members, { random: Math.random }, (a, b) => a.active < b.active);
 * ```
 */
export function twoChoices(
  members: readonly Member[],
  options: BalancerOptions,
  better: (a: Member, b: Member) => boolean,
): Balancer {
  const scan = (tried: readonly Member[] | undefined, panic: boolean | undefined): Member | undefined => {
    let best: Member | undefined;
    for (const member of members) {
      if (usable(member, tried, panic) && (best === undefined || better(member, best))) best = member;
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
      if (aOk && bOk) return better(b, a) ? b : a;
      if (aOk) return a;
      if (bOk) return b;
      return scan(tried, panic);
    },
  };
}
