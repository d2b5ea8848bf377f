/**
 * The status page document: head (our own CSS and scripts only, htmx
 * configured by a meta tag so nothing inline runs), the parts that stay put
 * (title, history charts, filters, the add-listener form) and the first
 * render of the parts every refresh swaps.
 *
 * @module
 */
import { html, raw } from "hono/html";
import { ASSETS } from "../assets.gen.ts";
import type { TrafficWindow } from "../traffic.ts";
import { spark } from "./listeners.ts";

/**
 * htmx with nothing evaluated, no inline styles injected (the CSP allows
 * none), no history snapshots, and requests only to this origin.
 */
const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  historyEnabled: false,
  selfRequestsOnly: true,
  defaultSwapStyle: "outerHTML",
  // Settling copies old attributes onto new elements; a style attribute would be inline style, which the CSP refuses.
  attributesToSettle: ["class", "width", "height"],
});

/** A static file's URL with its hash, so a new version is fetched at once despite caching. */
function asset(name: string): string {
  return `/static/${name}?v=${ASSETS[name].etag.replaceAll('"', "")}`;
}

/** What the shell shows around the live parts. */
export interface ShellOptions {
  readonly title: string;
  readonly csrf: string;
  /** Milliseconds between refreshes; 0: none. */
  readonly refreshMs: number;
  readonly window: TrafficWindow;
  /** Credentials are set: show who and a logout button. */
  readonly user: string | null;
  /** The control API is there: show the add-listener form. */
  readonly control: boolean;
  /** The first render of the parts every refresh swaps. */
  readonly live: LiveParts;
}

/** The parts every refresh swaps, each an element with its own id. */
export interface LiveParts {
  readonly cards: unknown;
  readonly listeners: unknown;
  readonly connections: unknown;
  readonly clients: unknown;
  readonly charts: unknown;
}

function windowSwitch(current: TrafficWindow) {
  const option = (value: TrafficWindow, label: string) =>
    html`<label><input type="radio" name="window" value="${value}"${
      value === current ? raw(" checked") : ""
    }>${label}</label>`;
  return html`<fieldset id="window" class="switch"><legend class="sr">History window</legend>
${option("5m", "5 min")}${option("1h", "1 hour")}${option("24h", "24 hours")}</fieldset>`;
}

function addListener() {
  return html`
    <section aria-labelledby="h-add">
      <details id="add-box">
        <summary>
          <h2 id="h-add">Add a listener</h2>
        </summary>
        <form id="add-listener" class="grid-form" hx-post="/api/v1/listeners" hx-ext="sluice-json" hx-swap="none"
          data-action="Add listener">
          <label>Name <input name="listener.name" pattern="[A-Za-z0-9._-]+" placeholder="web"></label>
          <label>Protocol <select name="listener.protocol"><option value="tcp">TCP</option><option value="udp">UDP</option></select></label>
          <label>Listen on <input name="listener.listen" required placeholder="0.0.0.0:8080"></label>
          <label>Balancer <select name="listener.balance"><option value="weighted">weighted</option><option value="least_connections">least_connections</option><option value="random_two">random_two</option><option value="hash">hash</option></select></label>
          <label
            class="wide">Backends <input name="listener.backends:addresses" required placeholder="10.0.0.5:80, 10.0.0.6:80"></label>
          <label class="check"><input type="checkbox" name="persist" value="true"> Save to the config file</label>
          <button type="submit" class="act">Add</button>
        </form>
      </details>
    </section>
  `;
}

/**
 * The whole page.
 *
 * @example
 * ```ts
 * c.html(await shell({ title: "Sluice", csrf, refreshMs: 2000, window: "5m", user: null, control: true, live: parts }));
 * ```
 */
export function shell(o: ShellOptions) {
  const account = o.user === null ? "" : html`<form method="post" action="/logout" class="logout">
<input type="hidden" name="csrf" value="${o.csrf}"><span class="small">${o.user}</span> <button type="submit" class="act">Log out</button></form>`;
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light dark">
        <link rel="icon" href="data:,">
        <meta name="htmx-config" content="${HTMX_CONFIG}">
        <title>${o.title}</title>
        <link rel="stylesheet" href="${asset("uPlot.min.css")}">
        <link rel="stylesheet" href="${asset("sluice.css")}">
        <script src="${asset("htmx.min.js")}" defer></script>
        <script src="${asset("uPlot.min.js")}" defer></script>
        <script src="${asset("sluice.js")}" defer></script>
      </head>
      <body hx-headers="${JSON.stringify({ "X-CSRF-Token": o.csrf })}" data-refresh-ms="${o.refreshMs}">
        <a class="skip" href="#main">Skip to content</a>
        <header class="top"><h1>Sluice</h1><span class="small" id="refresh-note">${o.refreshMs > 0
          ? `refreshes every ${o.refreshMs / 1000} s`
          : "not refreshing"}</span>
    <nav aria-label="Data"><a href="/api/v1/stats">JSON</a> <a href="/metrics">Metrics</a> <a href="/api/v1/stats?format=csv">CSV</a></nav>${account}</header>
        <div id="notice" role="status" aria-live="polite"></div>
        <main id="main">
    ${o.live.cards}
    <section class="history" aria-labelledby="h-history"><div class="bar-line"><h2 id="h-history">History</h2>${windowSwitch(
      o.window,
    )}</div>
    <div class="charts">
    <figure><figcaption>Throughput (in, out)</figcaption>${spark("total|bytes", "Total throughput")}</figure>
    <figure><figcaption>Connections (open, new per second)</figcaption>${spark(
      "total|conns",
      "Total connections",
    )}</figure>
    </div></section>
    ${o.live.listeners}
    <section aria-labelledby="h-connections"><h2 id="h-connections">Connections</h2>
    <form id="conn-filter" class="filters" role="search" hx-get="/ui/connections" hx-swap="none" hx-include="this"
    hx-trigger="input changed delay:250ms from:#f-source, input changed delay:250ms from:#f-backend, change from:#f-sort, submit">
    <label for="f-source">Source</label><input id="f-source" name="source" type="search" autocomplete="off" placeholder="10.0.0.5 or 10.0.0.0/8">
    <label for="f-backend">Backend</label><input id="f-backend" name="backend" type="search" autocomplete="off" placeholder="name">
    <label for="f-sort">Sort</label><select id="f-sort" name="sort"><option value="duration">longest first</option><option value="bytes">most bytes</option></select>
    </form>
    ${o.live.connections}
    </section>
    ${o.live.clients}
    ${o.control ? addListener() : ""}
    ${o.live.charts}
        </main>
        <div id="live" hidden hx-get="/ui/live" hx-trigger="sluice-refresh" hx-include="#conn-filter, #window"
          hx-swap="none" hx-sync="this:drop"></div>
      </body>
    </html>
  `;
}
