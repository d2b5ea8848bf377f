/**
 * The Deno {@linkcode HttpPort}: `Deno.serve`, with the client's address from
 * the handler's `info.remoteAddr`.
 *
 * @module
 */
import { socketAddress } from "../_address.ts";
import { listenError } from "../_errors.ts";
import type { FetchHandler, HttpPort, HttpServer } from "../types.ts";

function serve(options: { host: string; port: number }, handler: FetchHandler): Promise<HttpServer> {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      { hostname: options.host, port: options.port, onListen() {} },
      (request, info) => handler(request, { remote: socketAddress(info.remoteAddr.hostname, info.remoteAddr.port) }),
    );
  } catch (error) {
    return Promise.reject(listenError(options, error));
  }
  return Promise.resolve({
    address: socketAddress(server.addr.hostname, server.addr.port),
    close: () => server.shutdown(),
  });
}

/** HTTP through `Deno.serve`; use only under Deno. */
export const denoHttp: HttpPort = { serve };
