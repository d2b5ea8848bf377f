/**
 * Node health-check probes: a `node:net` conversation for TCP, the shared
 * UDP probe on this adapter's connected datagram socket.
 *
 * @module
 */
import * as net from "node:net";
import { probeUdpWith, TcpProbe } from "../_probe.ts";
import type { ProbeOptions } from "../types.ts";
import { connectUdp } from "./udp.ts";

/**
 * Connects, sends `options.send`, reads until the probe has enough; see
 * {@linkcode TcpProbe} for how it ends.
 *
 * @example
 * ```ts
 * const banner = await probeTcp({ host: "127.0.0.1", port: 22, timeoutMs: 500, enough: (b) => b.includes(10) });
 * ```
 */
export function probeTcp(options: ProbeOptions): Promise<Uint8Array> {
  const probe = new TcpProbe(options);
  const socket = net.connect({ host: options.host, port: options.port, noDelay: true });
  probe.attach(() => socket.destroy());
  socket.on("connect", () => {
    probe.connected();
    if (options.send) socket.write(options.send);
  });
  socket.on("data", (chunk: Buffer) => probe.data(chunk));
  socket.on("end", () => probe.end());
  socket.on("close", () => probe.end());
  socket.on("error", (error) => probe.fail(error));
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
