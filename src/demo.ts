/**
 * `--demo`: three small HTTP backends on loopback, and a trickle of requests
 * through the proxy so the numbers move.
 *
 * @module
 */
import { formatAddress } from "./net/address.ts";
import type { HttpServer, Runtime } from "./runtime/types.ts";

/** The running demo backends and traffic. */
export interface Demo {
  /** `host:port` of each backend, in order. */
  readonly backends: string[];
  /** Sends a request through the proxy every `everyMs`. */
  startTraffic(url: string, everyMs?: number): void;
  close(): Promise<void>;
}

/** Starts the demo backends on 127.0.0.1 with ports chosen by the OS. */
export async function startDemo(runtime: Runtime, count = 3): Promise<Demo> {
  const servers: HttpServer[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `demo-${i}`;
    servers.push(
      await runtime.http.serve(
        { host: "127.0.0.1", port: 0 },
        () => new Response(`hello from ${name}\n`, { headers: { "content-type": "text/plain", "x-backend": name } }),
      ),
    );
  }
  let timer: unknown;
  return {
    backends: servers.map((s) => formatAddress(s.address)),
    startTraffic(url, everyMs = 500) {
      timer = runtime.clock.setInterval(() => {
        fetch(url).then((r) => r.arrayBuffer()).catch(() => {});
      }, everyMs);
    },
    async close() {
      if (timer !== undefined) runtime.clock.clearInterval(timer);
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
