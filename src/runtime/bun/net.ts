/**
 * The Bun {@linkcode NetPort}: `Bun.listen`/`Bun.connect` with
 * `allowHalfOpen` and the shared handlers, and the relay in `relay.ts`.
 *
 * @module
 */
import { closeSync, openSync } from "node:fs";
import { dialWithTimeout } from "../_dial.ts";
import { listenError } from "../_errors.ts";
import type { ConnectTcpOptions, ListenTcpOptions, NetPort, TcpListener } from "../types.ts";
import { bun, type BunTcpServer } from "./api.ts";
import { BunConnection, type BunSocket } from "./connection.ts";
import { handlers } from "./handlers.ts";
import { BunRelay } from "./relay.ts";

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

/**
 * Bun reports a connect that failed for want of a file descriptor as
 * ECONNREFUSED, which would eject a healthy backend. On a refusal, try to
 * open a descriptor ourselves: when that fails, the failure was ours.
 */
function explainRefusal(error: unknown): unknown {
  if ((error as { code?: string })?.code !== "ECONNREFUSED") return error;
  try {
    closeSync(openSync("/dev/null", "r"));
    return error;
  } catch (probe) {
    const code = (probe as { code?: string })?.code;
    return code === "EMFILE" || code === "ENFILE" ? probe : error;
  }
}

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
};
