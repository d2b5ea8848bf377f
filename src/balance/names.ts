/**
 * The balancing strategies' names as configuration and the command line
 * spell them; `registry.ts` maps each to its strategy. No imports, so the
 * configuration schema can validate names without depending on strategies.
 *
 * @module
 */

/** Every strategy name, in the order `--help` lists them. */
export const BALANCER_NAMES = ["round-robin", "weighted", "least-conn", "random", "p2c", "hash", "ewma"] as const;
/** A strategy name accepted in configuration. */
export type BalancerName = (typeof BALANCER_NAMES)[number];
