/**
 * The status page's header cards: rates, totals, what is open now, refusals
 * by reason, and the running configuration's reload outcome.
 *
 * @module
 */
import { html } from "hono/html";
import type { ReloadCounts, ReloadOutcome } from "../../control/reloader.ts";
import type { StatsView } from "../views.ts";
import { byteRate, bytes, count, duration } from "./format.ts";

/** The reload side of the header, absent when the page runs without control. */
export interface ReloadInfo {
  readonly last: ReloadOutcome | undefined;
  readonly counts: ReloadCounts;
}

function card(label: string, value: unknown, detail: unknown = "", id?: string) {
  return html`
    <div class="card" ${id
      ? html`
        id="${id}"
      `
      : ""}>
      <dt>${label}</dt>
      <dd><span class="big">${value}</span>${detail === "" ? "" : html`<span class="small">${detail}</span>`}</dd>
    </div>
  `;
}

/** Sums the active connections of TCP listeners and the sessions of UDP ones. */
function openByProtocol(view: StatsView): { tcp: number; udp: number } {
  let tcp = 0;
  let udp = 0;
  for (const l of view.listeners) {
    if (l.protocol === "udp") udp += l.active_connections;
    else tcp += l.active_connections;
  }
  return { tcp, udp };
}

function refusals(view: StatsView) {
  const rates = Object.entries(view.refused_last_second).filter(([, n]) => n > 0);
  const total = rates.reduce((sum, [, n]) => sum + n, 0);
  const detail = rates.length
    ? rates.map(([reason, n]) => `${reason.replaceAll("_", " ")} ${count(n)}`).join(", ")
    : "none";
  return card("Refused /s", count(total), detail, "card-refused");
}

function reload(info: ReloadInfo | undefined, wallNow: number) {
  if (!info) return card("Config", "static", "no control API");
  const generation = `v${info.counts.success + 1}`;
  const last = info.last;
  if (!last) return card("Config", generation, "no reload yet", "card-config");
  const ago = duration((wallNow - Date.parse(last.at)) / 1000);
  const detail = last.ok
    ? html`<span class="ok">last reload ok</span> (${last.source}) ${ago} ago`
    : html`<span class="bad" title="${last.error ?? ""}">last reload failed</span> (${last.source}) ${ago} ago`;
  return card("Config", generation, detail, "card-config");
}

/**
 * The cards section, swapped whole on every refresh.
 *
 * @example
 * ```ts
 * const fragment = await cards(view, reloader, Date.now());
 * ```
 */
export function cards(view: StatsView, info: ReloadInfo | undefined, wallNow: number) {
  const t = view.total;
  const open = openByProtocol(view);
  return html`
    <section id="cards" aria-label="Totals" hx-swap-oob="true">
      <dl class="cards">
    ${card("In", byteRate(t.received_bytes_per_second), `${bytes(t.received_bytes_total)} total`, "card-in")}
    ${card("Out", byteRate(t.sent_bytes_per_second), `${bytes(t.sent_bytes_total)} total`, "card-out")}
    ${card("Connections", count(open.tcp), `${count(t.connections_total)} total`, "card-active")}
    ${card("UDP sessions", count(open.udp))}
    ${card("New /s", count(t.connections_per_second), `peak ${count(t.peak_connections_per_second)}`, "card-new")}
    ${refusals(view)}
    ${card("Uptime", duration(view.uptime_seconds))}
    ${card("Runtime", view.runtime, `Sluice ${view.version}`)}
    ${reload(info, wallNow)}
      </dl>
    </section>
  `;
}
