/**
 * The admin HTTP app (hono): JSON API and Prometheus metrics, all read-only
 * views of the {@linkcode Collector} and the backend states.
 *
 * @module
 */
import { Hono } from "hono";
import type { AdminConfig } from "../config/admin.ts";
import type { Logger } from "../log.ts";
import type { Clock, HttpRequestInfo } from "../runtime/types.ts";
import type { Collector } from "../stats/collector.ts";
import type { SessionFilter, TableJson } from "../stats/table-view.ts";
import { maskFormatted } from "../net/anonymize.ts";
import { AdminGuard } from "./auth.ts";
import { statsCsv } from "./csv.ts";
import { loginRoutes } from "./login.ts";
import { connectionsQuery } from "./query.ts";
import type { StateBook } from "../upstream/state.ts";
import { renderMetrics } from "./metrics.ts";
import { trafficView, type TrafficWindow, WINDOWS } from "./traffic.ts";
import { statsView } from "./views.ts";

/** Paths served, all read-only, for the 405 answer on other methods. */
const GET_PATHS = [
  "/",
  "/healthz",
  "/api/v1/stats",
  "/api/v1/connections",
  "/api/v1/connections/recent",
  "/api/v1/traffic",
  "/metrics",
];

/** What the admin app reads. */
export interface AdminDeps {
  readonly collector: Collector;
  readonly states: StateBook;
  readonly clock: Clock;
  /** Show client addresses masked (`anonymize_ips`). */
  readonly anonymize?: boolean;
  /** Out of local resources now: `/healthz` answers 503 meanwhile. */
  readonly exhaustion?: { isActive(now: number): boolean };
  /** Live and recent sessions, from this thread or gathered from worker threads. */
  connections(limit: number, filter?: SessionFilter): Promise<TableJson>;
  /** Credentials, accepted host names, public metrics; absent: no credentials (loopback rules). */
  readonly admin?: AdminConfig | null;
  /** Where `admin.action` and `admin.login` go. */
  readonly log?: Logger;
}

/**
 * Builds the admin app; its `fetch` takes the runtime's request info as `c.env`.
 *
 * @example
 * ```ts
 * const app = createAdminApp({ collector, states, clock, connections });
 * await runtime.http.serve({ host: "127.0.0.1", port: 9090 }, app.fetch);
 * ```
 */
export function createAdminApp(deps: AdminDeps): Hono<{ Bindings: HttpRequestInfo }> {
  const { collector, states, clock } = deps;
  // Filters matched the real addresses; what leaves is masked when asked.
  const shown = (table: TableJson): TableJson => {
    if (!deps.anonymize) return table;
    const mask = (s: TableJson["live"][number]) => ({ ...s, client: maskFormatted(s.client) });
    return { ...table, live: table.live.map(mask), recent: table.recent.map(mask) };
  };
  const app = new Hono<{ Bindings: HttpRequestInfo }>();
  // First, so nothing below runs for a request the guard refuses (an unknown path too: 401/403 before 404).
  const guard = new AdminGuard({ admin: deps.admin, clock, log: deps.log, anonymize: deps.anonymize });
  app.use("*", guard.middleware);

  // A query parameter given twice is ambiguous: refuse it rather than pick one.
  app.use("*", async (c, next) => {
    for (const [key, values] of Object.entries(c.req.queries())) {
      if (values.length > 1) return c.json({ error: `query parameter "${key}" is given ${values.length} times` }, 400);
    }
    await next();
  });
  loginRoutes(app, guard);

  app.get(
    "/",
    (c) =>
      c.text(
        `Sluice ${collector.info.version}\n\n/api/v1/stats\n/api/v1/connections?limit=N\n` +
          `/api/v1/traffic?window=5m|1h|24h[&listener=NAME][&backend=NAME]\n/metrics\n/healthz\n`,
      ),
  );

  app.get(
    "/healthz",
    (c) =>
      deps.exhaustion?.isActive(clock.now())
        ? c.text("out of file descriptors or ports; refusing new connections\n", 503)
        : c.text("ok\n"),
  );

  app.get("/api/v1/stats", (c) => {
    const format = c.req.query("format") ?? "json";
    if (format !== "json" && format !== "csv") {
      return c.json({ error: `format must be json or csv, got ${JSON.stringify(format)}` }, 400);
    }
    collector.gather();
    if (format === "csv") {
      return c.body(statsCsv(collector, states, clock.now()), 200, { "content-type": "text/csv; charset=utf-8" });
    }
    return c.json(statsView(collector, states, clock.now()));
  });

  app.get("/api/v1/connections", async (c) => {
    const query = connectionsQuery(c.req.query());
    if ("error" in query) return c.json({ error: query.error }, 400);
    return c.json(shown(await deps.connections(query.limit, query.filter)));
  });

  app.get("/api/v1/connections/recent", async (c) => {
    const query = connectionsQuery(c.req.query());
    if ("error" in query) return c.json({ error: query.error }, 400);
    const table = shown(await deps.connections(query.limit, query.filter));
    return c.json({ recent: table.recent });
  });

  app.get("/api/v1/traffic", (c) => {
    const window = c.req.query("window") ?? "5m";
    if (!(window in WINDOWS)) {
      return c.json({
        error: `window must be one of ${Object.keys(WINDOWS).join(", ")}, got ${JSON.stringify(window)}`,
      }, 400);
    }
    const listener = c.req.query("listener");
    const backend = c.req.query("backend");
    const view = trafficView(collector, window as TrafficWindow, { listener, backend });
    if ((listener !== undefined || backend !== undefined) && view.series.length === 0) {
      const what = backend !== undefined
        ? `backend ${JSON.stringify(backend)}`
        : `listener ${JSON.stringify(listener)}`;
      return c.json({ error: `no ${what}` }, 404);
    }
    return c.json(view);
  });

  app.get("/metrics", (c) => {
    collector.gather();
    return c.body(renderMetrics(collector, states, clock.now()), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });

  app.notFound((c) => {
    // A path that exists with another method: 405 and what it takes.
    if (GET_PATHS.includes(c.req.path)) {
      return c.json({ error: `${c.req.method} is not allowed on ${c.req.path}` }, 405, { Allow: "GET, HEAD" });
    }
    return c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404);
  });
  app.onError((error, c) => c.json({ error: `internal error: ${error.message}` }, 500));
  return app;
}
