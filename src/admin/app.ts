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
import { maskTable, maskTop } from "./masked.ts";
import { formatAddress } from "../net/address.ts";
import type { BoundListener } from "../proxy/listeners.ts";
import { AdminGuard } from "./auth.ts";
import { type AdminControl, CONTROL_PATHS, controlRoutes } from "./control.ts";
import { staticRoutes } from "./static.ts";
import type { Baseline } from "../stats/baseline.ts";
import { TOP_LIMIT_MAX, type TopBy, type TopView } from "../stats/client-top.ts";
import { statsCsv } from "./csv.ts";
import { loginRoutes } from "./login.ts";
import { connectionsQuery } from "./query.ts";
import type { StateBook } from "../upstream/state.ts";
import { renderMetrics } from "./metrics.ts";
import { parseWindow, trafficView } from "./traffic.ts";
import { type StatsView, statsView } from "./views.ts";
import { PAGE_PATHS, pageRoutes } from "./page/routes.ts";

/** Paths served, all read-only, for the 405 answer on other methods. */
const GET_PATHS = [
  ...PAGE_PATHS,
  "/healthz",
  "/api/v1/stats",
  "/api/v1/connections",
  "/api/v1/connections/recent",
  "/api/v1/traffic",
  "/api/v1/top",
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
  /** Mutations and the configuration API; absent: read-only. */
  readonly control?: AdminControl;
  /** Top client IPs, merged over every thread. */
  top?(by: TopBy, limit: number): Promise<TopView>;
  /** True once shutdown began: `/healthz` answers 503 so balancers in front stop sending. */
  draining?(): boolean;
  /** Where each listener is bound (the real port when 0 was configured). */
  addresses?(): BoundListener[];
  /** The API's zero after a stats reset. */
  readonly baseline?: Baseline;
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
  const shown = (table: TableJson): TableJson => (deps.anonymize ? maskTable(table) : table);
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

  /** The stats as the API shows them: bound addresses, weights, and counted from the last stats reset. */
  const currentView = (): StatsView => {
    collector.gather();
    const bound = new Map((deps.addresses?.() ?? []).map((b) => [b.key, formatAddress(b.address)]));
    const view = statsView(collector, states, clock.now(), bound, deps.control?.reloader.current);
    return deps.baseline ? deps.baseline.apply(view) : view;
  };

  pageRoutes(app, {
    collector,
    guard,
    view: currentView,
    connections: async (limit, filter) => shown(await deps.connections(limit, filter)),
    top: deps.top
      ? async () => {
        const view = await deps.top!("bytes", 10);
        return deps.anonymize ? maskTop(view) : view;
      }
      : undefined,
    reload: deps.control ? () => deps.control!.reloader : undefined,
    control: deps.control !== undefined,
    wallNow: () => clock.wallNow(),
  });

  app.get("/healthz", (c) => {
    if (deps.draining?.()) return c.text("shutting down; draining connections\n", 503);
    if (deps.exhaustion?.isActive(clock.now())) {
      return c.text("out of file descriptors or ports; refusing new connections\n", 503);
    }
    return c.text("ok\n");
  });

  app.get("/api/v1/stats", (c) => {
    const format = c.req.query("format") ?? "json";
    if (format !== "json" && format !== "csv") {
      return c.json({ error: `format must be json or csv, got ${JSON.stringify(format)}` }, 400);
    }
    if (format === "csv") {
      collector.gather();
      return c.body(statsCsv(collector, states, clock.now()), 200, { "content-type": "text/csv; charset=utf-8" });
    }
    const reloader = deps.control?.reloader;
    const baseline = deps.baseline;
    return c.json({
      ...currentView(),
      stats_reset_at: baseline?.resetAt === undefined ? null : new Date(baseline.resetAt).toISOString(),
      reload: reloader
        ? { last: reloader.last ?? null, success_total: reloader.counts.success, error_total: reloader.counts.error }
        : null,
    });
  });

  app.get("/api/v1/top", async (c) => {
    const unknown = Object.keys(c.req.query()).find((key) => key !== "by" && key !== "limit");
    if (unknown !== undefined) return c.json({ error: `unknown query parameter ${JSON.stringify(unknown)}` }, 400);
    const by = c.req.query("by") ?? "bytes";
    if (by !== "bytes" && by !== "connections") {
      return c.json({ error: `by must be bytes or connections, got ${JSON.stringify(by)}` }, 400);
    }
    const raw = c.req.query("limit") ?? "10";
    const limit = Number(raw);
    if (!/^\d+$/.test(raw) || limit < 1 || limit > TOP_LIMIT_MAX) {
      return c.json({ error: `limit must be an integer from 1 to ${TOP_LIMIT_MAX}, got ${JSON.stringify(raw)}` }, 400);
    }
    if (!deps.top) return c.json({ error: "top clients are not kept here" }, 404);
    const view = await deps.top(by, limit);
    return c.json(deps.anonymize ? maskTop(view) : view);
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
    const window = parseWindow(c.req.query("window"));
    if (typeof window === "object") return c.json(window, 400);
    const listener = c.req.query("listener");
    const backend = c.req.query("backend");
    const view = trafficView(collector, window, { listener, backend });
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
    return c.body(renderMetrics(collector, states, clock.now(), deps.control?.reloader.counts), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });

  if (deps.control) controlRoutes(app, deps.control);
  staticRoutes(app);

  app.notFound((c) => {
    // A path that exists with another method: 405 and what it takes.
    const allow = GET_PATHS.includes(c.req.path)
      ? "GET, HEAD"
      : CONTROL_PATHS.find(([pattern]) => pattern.test(c.req.path))?.[1];
    if (allow) return c.json({ error: `${c.req.method} is not allowed on ${c.req.path}` }, 405, { Allow: allow });
    return c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404);
  });
  app.onError((error, c) => c.json({ error: `internal error: ${error.message}` }, 500));
  return app;
}
