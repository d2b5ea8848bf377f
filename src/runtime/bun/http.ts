/**
 * The Bun {@linkcode HttpPort}: `Bun.serve`, with the client's address from
 * `server.requestIP(request)`.
 *
 * @module
 */
import { socketAddress } from "../_address.ts";
import { listenError } from "../_errors.ts";
import type { FetchHandler, HttpPort, HttpServeOptions, HttpServer } from "../types.ts";
import { bun, type BunHttpServer } from "./api.ts";

function serve(options: HttpServeOptions, handler: FetchHandler): Promise<HttpServer> {
  let server: BunHttpServer;
  try {
    server = bun().serve({
      hostname: options.host,
      port: options.port,
      fetch(request, self) {
        const ip = self.requestIP(request);
        return handler(request, { remote: socketAddress(ip?.address, ip?.port) });
      },
    });
  } catch (error) {
    return Promise.reject(listenError(options, error));
  }
  return Promise.resolve({
    address: { host: options.host, port: server.port },
    close: () => server.stop(true),
  });
}

/** HTTP through `Bun.serve`; use only under Bun. */
export const bunHttp: HttpPort = { serve };
