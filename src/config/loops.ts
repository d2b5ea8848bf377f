/**
 * A backend that is one of this process's own listen addresses makes every
 * connection dial itself, without end. This finds such backends in a
 * configuration, given the addresses of this machine's interfaces.
 *
 * @module
 */
import { formatAddress, isWildcardHost, type SocketAddress } from "../net/address.ts";
import type { Config, ConfigIssue } from "./schema.ts";

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^::ffff:/, "");
  return h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** `localhost` and names under `.localhost` (RFC 6761), with or without a final dot. */
export function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return h === "localhost" || h.endsWith(".localhost");
}

/** The addresses a backend host may reach on this machine, or undefined when it is not this machine. */
function localTargets(host: string, localHosts: ReadonlySet<string>): string[] | undefined {
  if (isLocalhostName(host)) return ["127.0.0.1", "::1"];
  if (isWildcardHost(host)) return ["*"]; // connecting to 0.0.0.0 or :: reaches this machine
  if (isLoopback(host) || localHosts.has(host)) return [host];
  return undefined;
}

/** Whether a listener on `listen` accepts what is sent to `backend`. */
function reaches(backend: SocketAddress, listen: SocketAddress, localHosts: ReadonlySet<string>): boolean {
  if (listen.port === 0 || backend.port !== listen.port) return false;
  const targets = localTargets(backend.host, localHosts);
  if (!targets) return false;
  if (isWildcardHost(listen.host) || targets.includes("*")) return true;
  return targets.includes(listen.host);
}

/**
 * Backends that are this process's own listeners.
 *
 * @example
 * ```ts
 * selfLoops(config, ["10.0.0.7"]);
 * // [{ path: "listeners[0].backends[0].address", message: "0.0.0.0:8080 ... would loop" }]
 * ```
 */
export function selfLoops(config: Config, localHosts: readonly string[]): ConfigIssue[] {
  const local = new Set(localHosts);
  const issues: ConfigIssue[] = [];
  config.listeners.forEach((owner, i) =>
    owner.backends.forEach((backend, j) => {
      const k = config.listeners.findIndex((l) => reaches(backend.address, l.listen, local));
      if (k < 0) return;
      const target = config.listeners[k];
      issues.push({
        path: `listeners[${i}].backends[${j}].address`,
        message: `${formatAddress(backend.address)} is this proxy's own listener listeners[${k}] ` +
          `(${formatAddress(target.listen)}); forwarding to it would loop`,
      });
    })
  );
  return issues;
}
