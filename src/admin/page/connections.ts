/**
 * The connections part of the page: live connections (filtered and sorted
 * by the API's filters, with a close button each), recently closed ones with
 * their reason, and the top client addresses.
 *
 * @module
 */
import { html } from "hono/html";
import type { TopView } from "../../stats/client-top.ts";
import type { SessionJson, TableJson } from "../../stats/table-view.ts";
import { bytes, count, duration } from "./format.ts";

/** Live connections shown at most; the rest are counted, and the filters narrow them. */
export const PAGE_ROWS = 50;

function liveRow(s: SessionJson, control: boolean) {
  const close = control
    ? html`
      <button type="button" id="close-${s.id}" class="act" hx-delete="/api/v1/connections/${s.id}" hx-swap="none"
        data-action="Close connection ${s.id}" aria-label="Close connection ${s.id} from ${s.client}">Close</button>
    `
    : "";
  return html`
    <tr>
      <td data-label="Id" class="num">${s.id}</td>
      <td data-label="Client"><code>${s.client}</code></td>
      <td data-label="Listener">${s.listener}</td>
      <td data-label="Backend">${s.backend ?? html`<span class="muted">none yet</span>`}</td>
      <td data-label="State">${s.state}${s.protocol === "udp" ? " (udp)" : ""}</td>
      <td data-label="Duration" class="num">${duration(s.duration_ms / 1000)}</td>
      <td data-label="In" class="num">${bytes(s.received_bytes)}</td>
      <td data-label="Out" class="num">${bytes(s.sent_bytes)}</td>
      <td data-label="" class="actions">${close}</td>
    </tr>
  `;
}

function recentRow(s: SessionJson) {
  return html`
    <tr>
      <td data-label="Id" class="num">${s.id}</td>
      <td data-label="Client"><code>${s.client}</code></td>
      <td data-label="Listener">${s.listener}</td>
      <td data-label="Backend">${s.backend ?? "–"}</td>
      <td data-label="Reason">${s.close_reason ?? "–"}</td>
      <td data-label="Lasted" class="num">${duration(s.duration_ms / 1000)}</td>
      <td data-label="Bytes" class="num">${bytes(s.received_bytes + s.sent_bytes)}</td>
    </tr>
  `;
}

/**
 * The live connections table; `id="connections"`, swapped by the refresh
 * and by the filter form.
 */
export function connections(table: TableJson, control: boolean) {
  const shown = table.live.length;
  const caption = table.matched === table.live_total
    ? `${count(table.live_total)} open`
    : `${count(table.matched)} of ${count(table.live_total)} open match`;
  const more = table.matched > shown ? `; the first ${shown} shown, narrow with the filters` : "";
  const body = shown ? html`<tbody>${table.live.map((s) => liveRow(s, control))}</tbody>` : html`
    <tbody>
      <tr>
        <td colspan="9" class="muted">No open connection matches.</td>
      </tr>
    </tbody>
  `;
  return html`
    <div id="connections" hx-swap-oob="true">
      <p class="small" id="conn-count" role="status">${caption}${more}</p>
      <table class="conns">
    <caption class="sr">Open connections</caption>
    <thead><tr><th scope="col">Id</th><th scope="col">Client</th><th scope="col">Listener</th><th scope="col">Backend</th>
    <th scope="col">State</th><th scope="col">Duration</th><th scope="col">In</th><th scope="col">Out</th><th scope="col"><span class="sr">Close</span></th></tr></thead>
    ${body}
      </table>
    </div>
  `;
}

function topList(view: TopView | undefined) {
  if (!view) return html`<p class="muted">Not kept here.</p>`;
  const w = view.last_minute;
  if (!w.clients.length) return html`<p class="muted">No clients in the last minute.</p>`;
  const unit = view.by === "bytes" ? bytes : count;
  const items = w.clients.map((c) =>
    html`<li><code>${c.client}</code> <span class="num">${unit(c.count)}</span>${
      c.error ? html`<span class="small" title="may be overstated by up to this much">±${unit(c.error)}</span>` : ""
    }</li>`
  );
  return html`<ol class="top">${items}</ol>`;
}

/** Top clients by bytes in the last minute, and recently closed connections; swapped on every refresh. */
export function clients(table: TableJson, top: TopView | undefined) {
  const recent = table.recent.length
    ? html`
      <table class="conns recent">
        <caption class="sr">Recently closed connections</caption>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Client</th>
            <th scope="col">Listener</th>
            <th scope="col">Backend</th>
            <th scope="col">Reason</th>
            <th scope="col">Lasted</th>
            <th scope="col">Bytes</th>
          </tr>
        </thead>
        <tbody>${table.recent.map(recentRow)}</tbody>
      </table>
    `
    : html`<p class="muted">None closed yet.</p>`;
  return html`
    <section id="clients" class="split" hx-swap-oob="true">
      <div><h2 id="h-top">Top clients <span class="small">by bytes, last minute</span></h2>${topList(top)}</div>
      <div><h2 id="h-recent">Recently closed</h2>${recent}</div>
    </section>
  `;
}
