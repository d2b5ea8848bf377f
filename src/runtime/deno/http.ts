/**
 * The Deno {@linkcode HttpPort}: `Deno.serve`, with the client's address from
 * the handler's `info.remoteAddr`. `Deno.serve` has no head-size option: it
 * answers a head over about 64 KiB with an empty `400` before the handler.
 *
 * @module
 */
import { socketAddress } from "../_address.ts";
import { errorText, listenError } from "../_errors.ts";
import { uriTooLong } from "../_web.ts";
import type { FetchHandler, HttpPort, HttpServeOptions, HttpServer } from "../types.ts";

/** How long to wait before serving again after the server failed. */
const RESTART_AFTER_MS = 250;

/**
 * Serves with `Deno.serve`. When its accept loop fails (out of descriptors),
 * Deno ends the server and rejects `finished`; unhandled, that rejection ends
 * the process. So it is handled: the error is reported and the server is
 * started again on the same address until that works.
 */
function serve(options: HttpServeOptions, handler: FetchHandler): Promise<HttpServer> {
  const fetch = (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) =>
    uriTooLong(request.url) ??
      handler(request, { remote: socketAddress(info.remoteAddr.hostname, info.remoteAddr.port) });
  const start = (port: number) => Deno.serve({ hostname: options.host, port, onListen() {} }, fetch);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = start(options.port);
  } catch (error) {
    return Promise.reject(listenError(options, error));
  }
  const address = socketAddress(server.addr.hostname, server.addr.port);
  let closed = false;
  const restart = () => {
    if (closed) return;
    try {
      watch(server = start(address.port));
    } catch (error) {
      options.onError?.(errorText(error));
      setTimeout(restart, RESTART_AFTER_MS);
    }
  };
  const watch = (running: Deno.HttpServer<Deno.NetAddr>) =>
    running.finished.catch((error) => {
      if (closed) return;
      options.onError?.(errorText(error));
      setTimeout(restart, RESTART_AFTER_MS);
    });
  watch(server);
  return Promise.resolve({
    address,
    close: () => {
      closed = true;
      return server.shutdown();
    },
  });
}

/** HTTP through `Deno.serve`; use only under Deno. */
export const denoHttp: HttpPort = { serve };
