/**
 * The Bun {@linkcode HttpPort}: `Bun.serve`, with the client's address from
 * `server.requestIP(request)`. `Bun.serve` has no head-size option; its limit
 * (16 KiB, over which it answers 431 before the handler) is the process-wide
 * one of `--max-http-header-size`, which assigning `node:http`'s
 * `maxHeaderSize` also sets.
 *
 * @module
 */
import nodeHttp from "node:http";
import { socketAddress } from "../_address.ts";
import { listenError } from "../_errors.ts";
import { MAX_HEAD_BYTES, uriTooLong } from "../_web.ts";
import type { FetchHandler, HttpPort, HttpServeOptions, HttpServer } from "../types.ts";
import { bun, type BunHttpServer } from "./api.ts";

/** Raises Bun's limit so a long URL reaches the 414 check; never lowers one given on the command line. */
function raiseHeadLimit(): void {
  const settings = nodeHttp as unknown as { maxHeaderSize: number };
  if (settings.maxHeaderSize < MAX_HEAD_BYTES) settings.maxHeaderSize = MAX_HEAD_BYTES;
}

function serve(options: HttpServeOptions, handler: FetchHandler): Promise<HttpServer> {
  let server: BunHttpServer;
  raiseHeadLimit();
  try {
    server = bun().serve({
      hostname: options.host,
      port: options.port,
      fetch(request, self) {
        const refused = uriTooLong(request.url);
        if (refused) return refused;
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
