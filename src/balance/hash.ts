import { hashKey } from "./hash-key.ts";
import { type Balancer, type BalancerFactory, type Member, usable } from "./types.ts";

/** Ring points per unit of weight; enough for an even spread with a handful of backends. */
const POINTS_PER_WEIGHT = 160;

/**
 * Consistent hashing on the client address (a ketama-style ring). A client
 * keeps its backend while that backend is usable; removing one of N backends
 * moves only the clients that were on it, about 1/N of them.
 *
 * @example
 * ```ts
 * const b = hash(members, { random: Math.random });
 * b.pick(hashKey("192.0.2.7")); // the same member every time
 * ```
 */
export const hash: BalancerFactory = Object.assign((members: readonly Member[]): Balancer => {
  const size = members.reduce((sum, m) => sum + m.weight * POINTS_PER_WEIGHT, 0);
  // Points and owners in two flat typed arrays, sorted by point, built once per snapshot.
  const entries: Array<[number, number]> = [];
  members.forEach((member, index) => {
    for (let v = 0; v < member.weight * POINTS_PER_WEIGHT; v++) entries.push([hashKey(`${member.key}#${v}`), index]);
  });
  entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const points = new Uint32Array(size);
  const owners = new Uint32Array(size);
  entries.forEach(([point, owner], i) => {
    points[i] = point;
    owners[i] = owner;
  });
  const judgedIn = new Float64Array(members.length);
  let picks = 0;
  return {
    pick(key, tried, panic) {
      if (size === 0) return undefined;
      let lo = 0;
      let hi = size;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (points[mid] < key) lo = mid + 1;
        else hi = mid;
      }
      // Walk clockwise to the first usable owner, judging each member once.
      const pickId = ++picks;
      let judged = 0;
      for (let i = 0; i < size && judged < members.length; i++) {
        const owner = owners[(lo + i) % size];
        if (judgedIn[owner] === pickId) continue;
        judgedIn[owner] = pickId;
        judged++;
        if (usable(members[owner], tried, panic)) return members[owner];
      }
      return undefined;
    },
  };
}, { needsKey: true });
