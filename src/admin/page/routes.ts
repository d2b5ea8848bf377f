/**
 * The status page's routes: `GET /` (the whole page) and the fragments htmx
 * swaps in, `GET /ui/live` (every live part, out of band, on each refresh)
 * and `GET /ui/connections` (the filtered table as the filters are typed).
 * Everything read comes from the same views as the JSON API; actions go to
 * the API itself, with the CSRF token htmx sends as a header.
 *
 * @module
 */
import type { Hono } from "hono";
import { compress } from "hono/compress";
import { parseCidr } from "../../net/cidr.ts";
import type { TopView } from "../../stats/client-top.ts";
import type { SessionFilter, TableJson } from "../../stats/table-view.ts";
import type { Collector } from "../../stats/collector.ts";
import type { HttpRequestInfo } from "../../runtime/types.ts";
import type { AdminContext, AdminGuard } from "../auth.ts";
import { parseWindow, type TrafficWindow } from "../traffic.ts";
import { oneOf, SORTS } from "../query.ts";
import type { StatsView } from "../views.ts";
import { cards, type ReloadInfo } from "./cards.ts";
import { chartData } from "./charts.ts";
import { clients, connections, PAGE_ROWS } from "./connections.ts";
import { listeners } from "./listeners.ts";
import { type LiveParts, shell } from "./shell.ts";
import { raw } from "hono/html";

/** What the page reads; the same sources the JSON API reads. */
export interface PageDeps {
  readonly collector: Collector;
  readonly guard: AdminGuard;
  /** The stats view as `/api/v1/stats` shows it (after a stats reset, counted from it). */
  view(): StatsView;
  /** Live and recent sessions, masked where the API masks them. */
  connections(limit: number, filter: SessionFilter): Promise<TableJson>;
  /** Top clients by bytes, masked where the API masks them. */
  top?(): Promise<TopView>;
  /** The reloader's outcome and counts; absent without the control API. */
  reload?(): ReloadInfo;
  /** The control API is there: show the buttons and forms. */
  readonly control: boolean;
  wallNow(): number;
}

/** Paths served, for the 405 answer on other methods. */
export const PAGE_PATHS = ["/", "/ui/live", "/ui/connections"];

/** The default refresh, in seconds. */
const DEFAULT_REFRESH = 2;

// Only our own files run and style; nothing inline, nothing framed, no form posts elsewhere.
const PAGE_HEADERS = {
  "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
  // Not no-referrer: with it a browser sends "Origin: null" on form POSTs (logout), which the guard refuses.
  "Referrer-Policy": "same-origin",
};

type Query = { window: TrafficWindow; refreshMs: number; filter: SessionFilter };

/** Reads the page's query, refusing unknown parameters and bad values, as the API does. */
function pageQuery(query: Record<string, string>, known: readonly string[]): Query | { error: string } {
  const unknown = Object.keys(query).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    return { error: `unknown query parameter ${JSON.stringify(unknown)}; known: ${known.join(", ")}` };
  }
  const window = parseWindow(query.window);
  if (typeof window === "object") return window;
  const refresh = query.refresh === undefined ? DEFAULT_REFRESH : Number(query.refresh);
  if (!/^\d+(\.\d+)?$/.test(query.refresh ?? "2") || !(refresh === 0 || (refresh >= 0.01 && refresh <= 3600))) {
    return { error: `refresh must be 0 (off) or seconds from 0.01 to 3600, got ${JSON.stringify(query.refresh)}` };
  }
  const sort = oneOf("sort", query.sort, SORTS) ?? "duration";
  if (typeof sort === "object") return sort;
  return { window, refreshMs: Math.round(refresh * 1000), filter: filterOf(query, sort) };
}

/** As typed: an address or block filters by CIDR, anything else by the text the client address contains. */
function filterOf(query: Record<string, string>, sort: "duration" | "bytes"): SessionFilter {
  const source = query.source?.trim() || undefined;
  const backend = query.backend?.trim() || undefined;
  const block = source !== undefined && parseCidr(source).ok;
  return {
    source: block ? source : undefined,
    clientContains: block ? undefined : source,
    backendContains: backend,
    sort,
  };
}

/**
 * The chart data block: JSON as the text of a hidden element (htmx does not
 * swap script elements out of band), escaped as text so no markup survives.
 */
function chartsPart(deps: PageDeps, window: TrafficWindow) {
  const json = JSON.stringify(chartData(deps.collector, window))
    .replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
  return raw(`<div id="chart-data" hidden hx-swap-oob="true">${json}</div>`);
}

async function liveParts(deps: PageDeps, q: Query): Promise<LiveParts> {
  const [table, top] = await Promise.all([deps.connections(PAGE_ROWS, q.filter), deps.top?.()]);
  const view = deps.view();
  const wallNow = deps.wallNow();
  return {
    cards: cards(view, deps.reload?.(), wallNow),
    listeners: listeners(view, wallNow, deps.control),
    connections: connections(table, deps.control),
    clients: clients(table, top),
    charts: chartsPart(deps, q.window),
  };
}

/**
 * Renders one refresh fragment (every live part); exported for the budget
 * bench, which times it with many backends and connections.
 */
export function renderLive(deps: PageDeps, window: TrafficWindow = "5m"): Promise<string> {
  return renderFragment(deps, { window, refreshMs: 0, filter: {} });
}

/** Registers `/`, `/ui/live` and `/ui/connections` on the admin app. */
export function pageRoutes(app: Hono<{ Bindings: HttpRequestInfo }>, deps: PageDeps): void {
  const page = compress();
  app.use("/", page);
  app.use("/ui/*", page);
  const bad = (c: AdminContext, error: string) => c.json({ error }, 400);

  app.get("/", async (c) => {
    const q = pageQuery(c.req.query(), ["refresh", "window"]);
    if ("error" in q) return bad(c, q.error);
    const identity = deps.guard.required ? deps.guard.identity(c) : undefined;
    const body = await shell({
      title: `Sluice ${deps.collector.info.version}`,
      csrf: await deps.guard.csrfToken(c),
      refreshMs: q.refreshMs,
      window: q.window,
      user: identity ? identity.who : null,
      control: deps.control,
      live: await liveParts(deps, q),
    });
    return c.html(body, 200, PAGE_HEADERS);
  });

  app.get("/ui/live", async (c) => {
    const q = pageQuery(c.req.query(), ["window", "source", "backend", "sort"]);
    if ("error" in q) return bad(c, q.error);
    return c.html(await renderFragment(deps, q), 200, PAGE_HEADERS);
  });

  app.get("/ui/connections", async (c) => {
    const q = pageQuery(c.req.query(), ["source", "backend", "sort"]);
    if ("error" in q) return bad(c, q.error);
    return c.html(await connections(await deps.connections(PAGE_ROWS, q.filter), deps.control), 200, PAGE_HEADERS);
  });
}

/** Every live part, in the order the page script expects: the chart data last, after the placeholders it fills. */
async function renderFragment(deps: PageDeps, q: Query): Promise<string> {
  const parts = await liveParts(deps, q);
  return (await Promise.all([parts.cards, parts.listeners, parts.connections, parts.clients, parts.charts])).join("\n");
}
