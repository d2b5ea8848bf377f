import { twoChoices } from "./_two-choices.ts";
import { type BalancerFactory, lessLoaded } from "./types.ts";

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
export const p2c: BalancerFactory = (members, options) => twoChoices(members, options, lessLoaded);
