/**
 * The Bun {@linkcode NetPort}: `Bun.listen`/`Bun.connect` with
 * `allowHalfOpen` and the shared handlers, and the relay in `relay.ts`.
 *
 * @module
 */
import { dialWithTimeout } from "../_dial.ts";
import { listenError } from "../_errors.ts";
import type { ConnectTcpOptions, ListenTcpOptions, NetPort, TcpListener } from "../types.ts";
import { bun, type BunTcpServer } from "./api.ts";
import { BunConnection, type BunSocket } from "./connection.ts";
import { explainRefusal } from "./explain.ts";
import { handlers } from "./handlers.ts";
import { probeTcp, probeUdp } from "./probe.ts";
import { BunRelay } from "./relay.ts";
import { connectUdp, listenUdp } from "./udp.ts";

function listenTcp(options: ListenTcpOptions, onConnection: (conn: BunConnection) => void): Promise<TcpListener> {
  const socket = handlers((s) => onConnection(new BunConnection(s, true)));
  let server: BunTcpServer;
  try {
    server = bun().listen({
      hostname: options.host,
      port: options.port,
      allowHalfOpen: true,
      reusePort: options.reusePort ?? false,
      socket,
    });
  } catch (error) {
    return Promise.reject(listenError(options, error));
  }
  let open = true;
  return Promise.resolve({
    address: { host: options.host, port: server.port },
    close() {
      if (open) {
        open = false;
        server.stop(false);
      }
      return Promise.resolve();
    },
  });
}

const upstreamHandlers = handlers();

const wrapUpstream = (socket: BunSocket) => new BunConnection(socket, false);
const discardUpstream = (socket: BunSocket) => socket.terminate();

function connectTcp(options: ConnectTcpOptions): Promise<BunConnection> {
  const connecting = bun().connect({
    hostname: options.host,
    port: options.port,
    allowHalfOpen: true,
    socket: upstreamHandlers,
  });
  return dialWithTimeout(options, connecting, wrapUpstream, discardUpstream, explainRefusal);
}

/** Bun sockets; use only under Bun. */
export const bunNet: NetPort<BunConnection> = {
  supportsReusePort: true,
  listenTcp,
  connectTcp,
  relayTcp: (client, upstream, tally) => new BunRelay(client, upstream, tally),
  // Through the uSockets SO_REUSEPORT flag (see udp.ts); checked to spread senders over the sockets on Bun 1.4.
  supportsUdpReusePort: true,
  listenUdp,
  connectUdp,
  probeTcp,
  probeUdp,
};
