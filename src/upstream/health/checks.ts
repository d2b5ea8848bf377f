/**
 * One health check of one backend, by type: a TCP connect, a send/expect
 * exchange (TCP or UDP), or an HTTP request. Each resolves with a result,
 * never rejects, and takes at most the configured timeout.
 *
 * @module
 */
import type { HealthConfig } from "../../config/health.ts";
import type { Protocol } from "../../config/schema.ts";
import type { SocketAddress } from "../../net/address.ts";
import { type Clock, ConnectError, type NetPort } from "../../runtime/types.ts";

/** What a check found. `reason` is `ok`, a connect failure (`timeout`, `refused`, ...), `status 503` or `unexpected reply`. */
export interface CheckResult {
  readonly ok: boolean;
  readonly reason: string;
  readonly latencyMs: number;
}

/** Checks the backend at `target`. */
export type Check = (target: SocketAddress) => Promise<CheckResult>;

/** True when `needle` occurs in `haystack`. */
export function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

const decoder = new TextDecoder();
const STATUS = /^HTTP\/1\.[01] (\d{3})/;

/**
 * Builds the check a listener's `[health]` asks for.
 *
 * @example
 * ```ts
 * const check = buildCheck(runtime.net, runtime.clock, "tcp", health);
 * await check({ host: "10.0.0.5", port: 80 }); // { ok: true, reason: "ok", latencyMs: 0.4 }
 * ```
 */
export function buildCheck(
  net: Pick<NetPort, "probeTcp" | "probeUdp">,
  clock: Clock,
  protocol: Protocol,
  health: HealthConfig,
): Check {
  const timeoutMs = health.timeoutMs;
  const timed = async (target: SocketAddress, run: (t: SocketAddress) => Promise<string>): Promise<CheckResult> => {
    const started = clock.now();
    const at = { host: target.host, port: health.port ?? target.port };
    let reason: string;
    try {
      reason = await run(at);
    } catch (error) {
      reason = error instanceof ConnectError ? error.reason : "error";
    }
    return { ok: reason === "ok", reason, latencyMs: clock.now() - started };
  };
  if (protocol === "udp") {
    const send = health.send!;
    const expect = health.expect!;
    return (target) =>
      timed(target, async (at) => {
        const reply = await net.probeUdp({ ...at, timeoutMs, send });
        return contains(reply, expect) ? "ok" : "unexpected reply";
      });
  }
  if (health.type === "send_expect") {
    const expect = health.expect!;
    return (target) =>
      timed(target, async (at) => {
        const reply = await net.probeTcp({ ...at, timeoutMs, send: health.send, enough: (r) => contains(r, expect) });
        return contains(reply, expect) ? "ok" : "unexpected reply";
      });
  }
  if (health.type === "http") {
    const [lo, hi] = health.expectStatus;
    return (target) =>
      timed(target, async (at) => {
        const host = health.host ?? (at.host.includes(":") ? `[${at.host}]:${at.port}` : `${at.host}:${at.port}`);
        const request = `GET ${health.path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: sluice-health\r\n` +
          `Connection: close\r\n\r\n`;
        const reply = await net.probeTcp({
          ...at,
          timeoutMs,
          send: new TextEncoder().encode(request),
          enough: (r) => r.includes(10), // the status line is in
        });
        const status = STATUS.exec(decoder.decode(reply.subarray(0, 64)));
        if (!status) return "not an HTTP reply";
        const code = Number(status[1]);
        return code >= lo && code <= hi ? "ok" : `status ${code}`;
      });
  }
  return (target) =>
    timed(target, async (at) => {
      await net.probeTcp({ ...at, timeoutMs, enough: () => true });
      return "ok";
    });
}
