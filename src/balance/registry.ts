/**
 * Balancing strategies by configuration name.
 *
 * @module
 */
import { ewma } from "./ewma.ts";
import { hash } from "./hash.ts";
import { leastConn } from "./least-conn.ts";
import { p2c } from "./p2c.ts";
import { random } from "./random.ts";
import { roundRobin } from "./round-robin.ts";
import type { BalancerName } from "./names.ts";
import type { BalancerFactory } from "./types.ts";
import { weighted } from "./weighted.ts";

/** Every strategy, keyed by the name used in config and on the command line. */
export const BALANCERS: Readonly<Record<BalancerName, BalancerFactory>> = {
  "round-robin": roundRobin,
  weighted,
  "least-conn": leastConn,
  random,
  p2c,
  hash,
  ewma,
};

export { BALANCER_NAMES, type BalancerName } from "./names.ts";
