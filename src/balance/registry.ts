/**
 * Balancing strategies by configuration name.
 *
 * @module
 */
import { hash } from "./hash.ts";
import { leastConn } from "./least-conn.ts";
import { p2c } from "./p2c.ts";
import { random } from "./random.ts";
import { roundRobin } from "./round-robin.ts";
import type { BalancerFactory } from "./types.ts";
import { weighted } from "./weighted.ts";

/** Every strategy, keyed by the name used in config and on the command line. */
export const BALANCERS = {
  "round-robin": roundRobin,
  weighted,
  "least-conn": leastConn,
  random,
  p2c,
  hash,
} as const satisfies Record<string, BalancerFactory>;

/** A strategy name accepted in configuration. */
export type BalancerName = keyof typeof BALANCERS;

/** The accepted names, for validation messages and `--help`. */
export const BALANCER_NAMES = Object.keys(BALANCERS) as BalancerName[];
