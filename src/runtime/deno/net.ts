/**
 * The Deno {@linkcode NetPort}: `Deno.listen`, `Deno.connect` and the
 * relay in `relay.ts`.
 *
 * @module
 */
import { socketAddress } from "../_address.ts";
import { dialWithTimeout } from "../_dial.ts";
import { errorText, listenError } from "../_errors.ts";
import type { ConnectTcpOptions, ListenTcpOptions, NetPort, TcpListener } from "../types.ts";
import { DenoConnection } from "./connection.ts";
import { probeTcp, probeUdp } from "./probe.ts";
import { DenoRelay } from "./relay.ts";
import { connectUdp, listenUdp } from "./udp.ts";

function listenTcp(options: ListenTcpOptions, onConnection: (conn: DenoConnection) => void): Promise<TcpListener> {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({
      hostname: options.host,
      port: options.port,
      transport: "tcp",
      reusePort: options.reusePort || undefined,
    });
  } catch (error) {
    return Promise.reject(listenError(options, error));
  }
  let open = true;
  const accepting = (async () => {
    while (open) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (!open || error instanceof Deno.errors.BadResource) return;
        options.onError?.(errorText(error));
        // Out of descriptors and similar: back off briefly instead of spinning.
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      onConnection(new DenoConnection(conn));
    }
  })();
  const bound = listener.addr as Deno.NetAddr;
  return Promise.resolve({
    address: socketAddress(bound.hostname, bound.port),
    // Resolves once the accept loop has ended, so the address is free again for the next bind.
    close() {
      if (open) {
        open = false;
        listener.close();
      }
      return accepting;
    },
  });
}

const wrapUpstream = (conn: Deno.TcpConn) => new DenoConnection(conn);
const discardUpstream = (conn: Deno.TcpConn) => conn.close();

/** Dials with a plain timer rather than an AbortSignal: a signal makes Deno set up a cancel handle for every connect. */
function connectTcp(options: ConnectTcpOptions): Promise<DenoConnection> {
  return dialWithTimeout(
    options,
    Deno.connect({ hostname: options.host, port: options.port }),
    wrapUpstream,
    discardUpstream,
  );
}

/** Deno sockets; use only under Deno. */
export const denoNet: NetPort<DenoConnection> = {
  // Deno.listen({ reusePort }) without the `net` unstable flag ends the process, so only claim
  // support when an unstable-net API is present. A getter: this module also loads under Bun and Node.
  get supportsReusePort() {
    return Deno.build.os === "linux" &&
      typeof (Deno as unknown as Record<string, unknown>).listenDatagram === "function";
  },
  listenTcp,
  connectTcp,
  relayTcp: (client, upstream, tally) => new DenoRelay(client, upstream, tally),
  // Deno.listenDatagram has no reusePort; its reuseAddress makes the last socket bound take
  // every datagram instead of sharing them (checked on Deno 2.9), so a shared UDP port is never claimed.
  supportsUdpReusePort: false,
  listenUdp,
  connectUdp,
  probeTcp,
  probeUdp,
};
