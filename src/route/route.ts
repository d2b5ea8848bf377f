/**
 * Routing: which pool serves a session. Today a listener has one pool; SNI
 * and SOCKS5 targets choose among several here.
 *
 * @module
 */
import type { SocketAddress } from "../net/address.ts";
import type { Pool } from "../upstream/pool.ts";

/** What a router sees of a session. */
export interface RouteInput {
  readonly listener: { readonly key: string };
  readonly client: SocketAddress;
}

/** Chooses the pool for a session, or undefined when none serves it. */
export type Router = (input: RouteInput) => Pool | undefined;

/**
 * The router of a listener with one pool.
 *
 * @example
 * ```ts
 * const route = singlePool(pool);
 * route(session) === pool; // true
 * ```
 */
export function singlePool(pool: Pool): Router {
  return () => pool;
}
