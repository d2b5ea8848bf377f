/**
 * The Node {@linkcode HttpPort}: `@hono/node-server`, with the client's
 * address from the request's socket (the server passes
 * `{ incoming, outgoing }` as the handler's second argument).
 *
 * @module
 */
import type * as net from "node:net";
import { serve as serveNode } from "@hono/node-server";
import { socketAddress } from "../_address.ts";
import { listenError } from "../_errors.ts";
import type { FetchHandler, HttpPort, HttpServeOptions, HttpServer } from "../types.ts";

async function serve(options: HttpServeOptions, handler: FetchHandler): Promise<HttpServer> {
  let server: ReturnType<typeof serveNode>;
  await new Promise<void>((resolve, reject) => {
    server = serveNode({
      hostname: options.host,
      port: options.port,
      fetch(request, bindings) {
        const socket = bindings.incoming.socket;
        return handler(request, { remote: socketAddress(socket.remoteAddress, socket.remotePort) });
      },
    }, () => resolve());
    server.once("error", (error) => reject(listenError(options, error)));
  });
  const bound = server!.address() as net.AddressInfo;
  return {
    address: socketAddress(bound.address, bound.port),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/** HTTP through `@hono/node-server`. */
export const nodeHttp: HttpPort = { serve };
