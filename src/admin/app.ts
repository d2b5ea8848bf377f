/**
 * The admin HTTP app (hono): JSON API and Prometheus metrics, all read-only
 * views of the {@linkcode Collector}.
 *
 * @module
 */
import { Hono } from "hono";
import type { Clock } from "../runtime/types.ts";
import type { Collector } from "../stats/collector.ts";
import { renderPrometheus } from "../stats/prometheus.ts";
import { type ConnectionsJson, connectionsView, statsView } from "./views.ts";

const MAX_LIST = 1000;

/**
 * Builds the admin app.
 *
 * @example
 * ```ts
 * const app = createAdminApp(collector, clock);
 * await runtime.serveHttp({ host: "127.0.0.1", port: 9090 }, app.fetch);
 * ```
 */
export function createAdminApp(
  collector: Collector,
  clock: Clock,
  /** Where connections come from; the collector's own table unless worker threads hold them. */
  connections: (limit: number) => Promise<ConnectionsJson> = (limit) => Promise.resolve(connectionsView(collector.table, limit, clock.now())),
): Hono {
  const app = new Hono();

  app.get("/", (c) =>
    c.text(`Sluice ${collector.info.version}\n\n/api/v1/stats\n/api/v1/connections?limit=N\n/metrics\n/healthz\n`));

  app.get("/healthz", (c) => c.text("ok\n"));

  app.get("/api/v1/stats", (c) => c.json(statsView(collector)));

  app.get("/api/v1/connections", async (c) => {
    const raw = c.req.query("limit") ?? "100";
    if (!/^\d+$/.test(raw) || +raw < 1 || +raw > MAX_LIST) {
      return c.json({ error: `limit must be a whole number from 1 to ${MAX_LIST}, got ${JSON.stringify(raw)}` }, 400);
    }
    return c.json(await connections(Number(raw)));
  });

  app.get("/metrics", (c) => c.body(renderPrometheus(collector), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }));

  app.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => c.json({ error: `internal error: ${error.message}` }, 500));
  return app;
}
