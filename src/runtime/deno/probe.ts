/**
 * Deno health-check probes: `Deno.connect` and a read loop for TCP, the
 * shared UDP probe on this adapter's datagram socket (Deno reports no ICMP
 * port unreachable, so a closed UDP port times out).
 *
 * @module
 */
import { probeUdpWith, TcpProbe } from "../_probe.ts";
import type { ProbeOptions } from "../types.ts";
import { connectUdp } from "./udp.ts";

const READ_CHUNK = 16 * 1024;

async function converse(conn: Deno.TcpConn, probe: TcpProbe, send: Uint8Array | undefined): Promise<void> {
  try {
    for (let written = 0; send && written < send.length;) written += await conn.write(send.subarray(written));
    const buffer = new Uint8Array(READ_CHUNK);
    while (!probe.done) {
      const n = await conn.read(buffer);
      if (n === null) return probe.end();
      probe.data(buffer.subarray(0, n));
    }
  } catch (error) {
    probe.fail(error);
  }
}

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
  // A probe may abort its connect (unlike the hot-path dial): a blackholed backend then holds no socket.
  const connecting = new AbortController();
  probe.attach(() => connecting.abort());
  Deno.connect({ hostname: options.host, port: options.port, signal: connecting.signal }).then(
    (conn) => {
      if (!probe.attach(() => conn.close())) return;
      probe.connected();
      converse(conn, probe, options.send);
    },
    (error) => probe.fail(error),
  );
  return probe.promise;
}

/**
 * One datagram out, the first reply back; a closed port times out (Deno reports no ICMP).
 *
 * @example
 * ```ts
 * const reply = await probeUdp({ host: "127.0.0.1", port: 53, timeoutMs: 500, send: query });
 * ```
 */
export function probeUdp(options: ProbeOptions & { readonly send: Uint8Array }): Promise<Uint8Array> {
  return probeUdpWith(connectUdp, options);
}
