/**
 * Client addresses as they leave the admin server when `anonymize_ips` is
 * on: filters and rankings ran on the real addresses; only what is shown is
 * masked.
 *
 * @module
 */
import { maskFormatted } from "../net/anonymize.ts";
import type { TopView, TopWindowView } from "../stats/client-top.ts";
import type { TableJson } from "../stats/table-view.ts";

/** A connection table with client addresses masked. */
export function maskTable(table: TableJson): TableJson {
  const mask = (s: TableJson["live"][number]) => ({ ...s, client: maskFormatted(s.client) });
  return { ...table, live: table.live.map(mask), recent: table.recent.map(mask) };
}

/** Top clients masked after ranking: two clients of one /24 stay two rows, each with its own error bound. */
export function maskTop(view: TopView): TopView {
  const mask = (w: TopWindowView) => ({
    ...w,
    clients: w.clients.map((x) => ({ ...x, client: maskFormatted(x.client) })),
  });
  return { ...view, last_minute: mask(view.last_minute), since_start: mask(view.since_start) };
}
