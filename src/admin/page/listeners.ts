/**
 * The listeners section: per listener a header line (address, protocol,
 * balancer, counters, sparklines) and a dense backends table with state,
 * time in state, last check, weight, connections, rates, bytes, errors, a
 * traffic share bar, sparklines and the operator's buttons.
 *
 * @module
 */
import { html } from "hono/html";
import type { StatsView } from "../views.ts";
import { byteRate, bytes, count, duration, millis } from "./format.ts";
import { domId } from "./ids.ts";

type Listener = StatsView["listeners"][number];
type Backend = Listener["backends"][number];

/** What each shown state means, for the legend and the chips' titles. */
export const STATE_MEANINGS: Readonly<Record<string, string>> = {
  up: "takes new connections",
  down: "failed its health checks",
  ejected: "failed connects; out for a while",
  draining: "an operator drains it: no new connections, open ones finish",
  drained: "drained: no connections left",
  disabled: "an operator disabled it",
};

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

const breakdown = (counts: Record<string, number>) =>
  Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => `${k.replaceAll("_", " ")}: ${n}`).join(", ");

/** The base of a backend's control URLs: listener key and backend address are unique where names may not be. */
function backendUrl(l: Listener, b: Backend): string {
  return `/api/v1/listeners/${encodeURIComponent(l.key)}/backends/${encodeURIComponent(b.address)}`;
}

/** A chart placeholder; the page script moves the chart itself in, so it is not re-created per refresh. */
export function spark(chart: string, label: string) {
  return html`<div class="spark" data-chart="${chart}" role="img" aria-label="${label}"></div>`;
}

function stateCell(b: Backend) {
  const since = b.state_seconds === null ? "" : html`<span class="small">for ${duration(b.state_seconds)}</span>`;
  return html`<td data-label="State"><span class="state s-${b.state}" title="${
    STATE_MEANINGS[b.state] ?? ""
  }">${b.state}</span>${since}</td>`;
}

function checkCell(b: Backend, wallNow: number) {
  const check = b.last_check;
  if (!check) return html`<td data-label="Check"><span class="muted">not checked</span></td>`;
  const ago = duration((wallNow - Date.parse(check.at)) / 1000);
  return html`<td data-label="Check"><span class="${check.ok ? "ok" : "bad"}">${check.ok ? "ok" : check.reason}</span>
<span class="small">${millis(check.latency_ms)}, ${ago} ago</span></td>`;
}

function actions(l: Listener, b: Backend, id: string, control: boolean) {
  if (!control) return html`<td data-label="Actions"><span class="muted">read-only</span></td>`;
  const url = backendUrl(l, b);
  const who = `${b.name} in ${l.name}`;
  // One id per slot whatever the label, so focus comes back to it when Drain turns into Enable.
  const button = (slot: string, action: string, label: string) =>
    html`
      <button type="button" id="${slot}-${id}" class="act" hx-post="${url}/${action}" hx-swap="none"
        data-action="${label} ${who}" aria-label="${label} ${who}">${label}</button>
    `;
  const enabled = b.state !== "disabled" && b.state !== "draining" && b.state !== "drained";
  const buttons = enabled
    ? [button("act", "drain", "Drain"), button("act2", "disable", "Disable")]
    : [button("act", "enable", "Enable")];
  const weight = b.weight === null ? "" : html`
    <form class="weight" hx-post="${url}/weight" hx-ext="sluice-json" hx-swap="none"
      data-action="Weight of ${who}">
    <label for="w-${id}" class="sr">Weight of ${who}</label><input id="w-${id}" name="weight:number" type="number" min="1" max="1000" required value="${b
      .weight}" inputmode="numeric"><button type="submit" id="set-${id}" class="act" aria-label="Set weight of ${who}">Set</button></form>
  `;
  return html`<td data-label="Actions" class="actions">${buttons}${weight}</td>`;
}

function shareBar(share: number) {
  const percent = Math.round(share * 1000) / 10;
  return html`
    <td data-label="Share"
      class="share"><svg class="bar" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true"><rect class="track" width="100" height="8"></rect><rect width="${percent}" height="8"></rect></svg><span class="small">${percent}%</span></td>
  `;
}

function backendRow(l: Listener, b: Backend, share: number, wallNow: number, control: boolean) {
  const id = domId("b", l.key, b.address);
  const chart = `b:${l.key}|${b.address}`;
  const errors = sum(b.connect_errors_total);
  return html`<tr id="${id}" class="row-${b.state}">
<th scope="row" data-label="Backend"><span class="name">${b.name}</span>${
    b.name === b.address ? "" : html`<span class="small">${b.address}</span>`
  }</th>
${stateCell(b)}${checkCell(b, wallNow)}
<td data-label="Weight" class="num">${b.weight ?? "–"}</td>
<td data-label="Conns now / max / total" class="num">${count(b.active_connections)} / ${
    count(b.peak_active_connections)
  } / ${count(b.connections_total)}</td>
<td data-label="New /s now / max" class="num">${count(b.connections_per_second)} / ${
    count(b.peak_connections_per_second)
  }</td>
<td data-label="In" class="num">${bytes(b.received_bytes_total)}<span class="small">${
    byteRate(b.received_bytes_per_second)
  }</span></td>
<td data-label="Out" class="num">${bytes(b.sent_bytes_total)}<span class="small">${
    byteRate(b.sent_bytes_per_second)
  }</span></td>
<td data-label="Errors" class="num${errors ? " bad" : ""}" title="${breakdown(b.connect_errors_total)}">${
    count(errors)
  }<span class="small">${b.ejections_total} ejections</span></td>
${shareBar(share)}
<td data-label="Traffic" class="sparks">${spark(`${chart}|bytes`, `Throughput of ${b.name}`)}${
    spark(`${chart}|conns`, `Connections of ${b.name}`)
  }</td>
${actions(l, b, id, control)}
</tr>`;
}

/** Each backend's share of its listener's traffic: the last second's, or the totals' when the second was idle. */
function shares(l: Listener): number[] {
  const now = l.backends.map((b) => b.received_bytes_per_second + b.sent_bytes_per_second);
  const ever = l.backends.map((b) => b.received_bytes_total + b.sent_bytes_total);
  const pick = now.some((n) => n > 0) ? now : ever;
  const all = pick.reduce((a, b) => a + b, 0);
  return pick.map((n) => (all > 0 ? n / all : 0));
}

function listenerBlock(l: Listener, wallNow: number, control: boolean) {
  const id = domId("l", l.key);
  const rejected = sum(l.rejected_total) + ("dropped_total" in l ? sum(l.dropped_total ?? {}) : 0);
  const share = shares(l);
  const rows = l.backends.map((b, i) => backendRow(l, b, share[i], wallNow, control));
  const remove = control
    ? html`
      <button type="button" id="del-${id}" class="act danger" hx-delete="/api/v1/listeners/${encodeURIComponent(
        l.key,
      )}" hx-swap="none"
        hx-confirm="Delete listener ${l.name} (${l.address ?? l.key})? Its connections are drained."
        data-action="Delete listener ${l.name}" aria-label="Delete listener ${l.name}">Delete</button>
    `
    : "";
  return html`
    <article class="listener" id="${id}" aria-labelledby="h-${id}">
      <header class="lhead">
    <h3 id="h-${id}">${l.name}</h3>
    <span class="tag">${l.protocol.toUpperCase()}</span><code>${l.address ?? l.key}</code>${l.balance
      ? html`<span class="tag" title="balancer">${l.balance}</span>`
      : ""}
    <span class="lstats"><span>${count(l.active_connections)} ${l.protocol === "udp" ? "sessions" : "open"}</span>
    <span>${count(l.connections_total)} total</span><span>${count(l.connections_per_second)} new/s</span>
    <span class="${rejected ? "bad" : ""}" title="${breakdown(l.rejected_total)}">${count(rejected)} refused</span>
    <span>in ${bytes(l.received_bytes_total)}</span><span>out ${bytes(l.sent_bytes_total)}</span></span>
    <span class="sparks">${spark(`l:${l.key}|bytes`, `Throughput of ${l.name}`)}${spark(
      `l:${l.key}|conns`,
      `Connections of ${l.name}`,
    )}</span>
    ${remove}
      </header>
      <table class="backends">
        <caption class="sr">Backends of ${l.name}</caption>
        <thead>
          <tr>
            <th scope="col">Backend</th>
            <th scope="col">State</th>
            <th scope="col">Last check</th>
            <th scope="col">Wght</th>
            <th scope="col">Conns now / max / total</th>
            <th scope="col">New/s now / max</th>
            <th scope="col">In</th>
            <th scope="col">Out</th>
            <th scope="col">Errors</th>
            <th scope="col">Share</th>
            <th scope="col">Traffic / conns</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>${rows}</tbody>
      </table>
    </article>
  `;
}

/**
 * The listeners section, swapped whole on every refresh; `control` shows
 * the buttons (the page runs with the control API).
 */
export function listeners(view: StatsView, wallNow: number, control: boolean) {
  const legend = Object.entries(STATE_MEANINGS).map(([state, meaning]) =>
    html`<li><span class="state s-${state}">${state}</span> ${meaning}</li>`
  );
  return html`<section id="listeners" aria-labelledby="h-listeners" hx-swap-oob="true">
<h2 id="h-listeners">Listeners and backends</h2>
<ul class="legend" aria-label="Backend states">${legend}</ul>
${view.listeners.map((l) => listenerBlock(l, wallNow, control))}
</section>`;
}
