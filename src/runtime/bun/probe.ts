/**
 * Bun health-check probes: `Bun.connect` with its own handlers for TCP, the
 * shared UDP probe on this adapter's connected datagram socket.
 *
 * @module
 */
import { probeUdpWith, TcpProbe } from "../_probe.ts";
import type { ProbeOptions } from "../types.ts";
import { bun, type BunProbeHandlers, type BunProbeSocket } from "./api.ts";
import { explainRefusal } from "./explain.ts";
import { connectUdp } from "./udp.ts";

/**
 * Connects, sends `options.send` (the rest on `drain` after a short write),
 * reads until the probe has enough; see {@linkcode TcpProbe} for how it ends.
 *
 * @example
 * ```ts
 * const banner = await probeTcp({ host: "127.0.0.1", port: 22, timeoutMs: 500, enough: (b) => b.includes(10) });
 * ```
 */
export function probeTcp(options: ProbeOptions): Promise<Uint8Array> {
  const probe = new TcpProbe(options);
  let unsent = options.send;
  const flush = (socket: BunProbeSocket) => {
    if (!unsent || unsent.length === 0) return;
    const written = socket.write(unsent);
    unsent = unsent.subarray(Math.max(0, written));
  };
  const fail = (error: unknown) => probe.fail(explainRefusal(error));
  const handlers: BunProbeHandlers = {
    open(socket) {
      if (!probe.attach(() => socket.terminate())) return;
      probe.connected();
      flush(socket);
    },
    data: (_socket, chunk) => probe.data(chunk),
    drain: flush,
    end: () => probe.end(),
    close: (_socket, error) => (error ? fail(error) : probe.end()),
    error: (_socket, error) => fail(error),
    connectError: (_socket, error) => fail(error),
  };
  bun().connect({ hostname: options.host, port: options.port, socket: handlers }).catch(fail);
  return probe.promise;
}

/**
 * One datagram out, the first reply back; an ICMP port unreachable rejects with `refused`.
 *
 * @example
 * ```ts
 * const reply = await probeUdp({ host: "127.0.0.1", port: 53, timeoutMs: 500, send: query });
 * ```
 */
export function probeUdp(options: ProbeOptions & { readonly send: Uint8Array }): Promise<Uint8Array> {
  return probeUdpWith(connectUdp, options);
}
