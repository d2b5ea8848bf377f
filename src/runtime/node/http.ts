/**
 * The Node {@linkcode HttpPort}: `@hono/node-server`, with the client's
 * address from the request's socket (the server passes
 * `{ incoming, outgoing }` as the handler's second argument). Node's own
 * head limit (16 KiB) is raised so that a long URL reaches the 414 check.
 *
 * @module
 */
import type * as net from "node:net";
import { serve as serveNode } from "@hono/node-server";
import { socketAddress } from "../_address.ts";
import { listenError } from "../_errors.ts";
import { MAX_HEAD_BYTES, uriTooLong } from "../_web.ts";
import type { FetchHandler, HttpPort, HttpServeOptions, HttpServer } from "../types.ts";

async function serve(options: HttpServeOptions, handler: FetchHandler): Promise<HttpServer> {
  let server: ReturnType<typeof serveNode>;
  await new Promise<void>((resolve, reject) => {
    server = serveNode({
      hostname: options.host,
      port: options.port,
      // Counts the URL and header bytes; past it Node answers 431 itself.
      serverOptions: { maxHeaderSize: MAX_HEAD_BYTES },
      fetch(request, bindings) {
        const refused = uriTooLong(request.url);
        if (refused) return refused;
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
