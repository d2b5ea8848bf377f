/**
 * Admission: the first stage after accept. Each rule may refuse a client
 * with a reason; the first refusal wins and the session never reaches a
 * backend. Allow/deny lists, connection caps and rate limits are rules here.
 *
 * @module
 */
import type { SocketAddress } from "../net/address.ts";
import type { RejectReason } from "../stats/counters.ts";

/** A reason to refuse `client` on the listener with key `listener`, or undefined to let it pass. */
export type AdmitRule = (client: SocketAddress, listener: string) => RejectReason | undefined;

/**
 * Runs rules in order; undefined when there are none, so the data path skips
 * the stage without a call.
 *
 * @example
 * ```ts
 * const admit = admission([denyList]);
 * admit?.({ host: "192.0.2.7", port: 5000 }, "tcp/0.0.0.0:80"); // undefined: admitted
 * ```
 */
export function admission(rules: readonly AdmitRule[]): AdmitRule | undefined {
  if (rules.length === 0) return undefined;
  if (rules.length === 1) return rules[0];
  return (client, listener) => {
    for (const rule of rules) {
      const reason = rule(client, listener);
      if (reason !== undefined) return reason;
    }
    return undefined;
  };
}
