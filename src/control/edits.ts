/**
 * Edits of a configuration document made through the admin API (a backend's
 * weight, a listener added or deleted), as pure functions: the result goes
 * through the same validation and reload as a changed file, so nothing is
 * half-applied. Listeners (by name or key) and backends (by name or address)
 * are found in the running {@linkcode Config} and edited at the same index
 * of the document, since normalization keeps the document's order.
 *
 * @module
 */
import { backendKey, type Config } from "../config/schema.ts";
import type { Document } from "../config/sources.ts";

/** An edited document, or why the edit cannot be made (`status` is the HTTP status to answer with). */
export type EditResult = { ok: true; document: Document } | { ok: false; status: 400 | 404; error: string };

/** The index of the listener `ref` (its name or key) in `config`, or -1. */
export function findListener(config: Config, ref: string): number {
  return config.listeners.findIndex((l) => l.name === ref || l.key === ref);
}

/** The index of backend `ref` (its name or address) in listener `index`'s pool, or -1. */
export function findBackend(config: Config, index: number, ref: string): number {
  return config.listeners[index].backends.findIndex((b) => b.name === ref || backendKey(b) === ref);
}

function listenersOf(document: Document): Document[] {
  return Array.isArray(document.listeners) ? (document.listeners as Document[]) : [];
}

/** Sets the weight of backend `backend` of listener `listener`. */
export function setWeight(
  document: Document,
  config: Config,
  listener: string,
  backend: string,
  weight: number,
): EditResult {
  const l = findListener(config, listener);
  if (l < 0) return { ok: false, status: 404, error: `no listener ${JSON.stringify(listener)}` };
  const b = findBackend(config, l, backend);
  if (b < 0) {
    return {
      ok: false,
      status: 404,
      error: `no backend ${JSON.stringify(backend)} in listener ${JSON.stringify(listener)}`,
    };
  }
  const listeners = listenersOf(document).map((entry, i) => {
    if (i !== l) return entry;
    const backends = (entry.backends as Document[]).map((x, j) => (j === b ? { ...x, weight } : x));
    return { ...entry, backends };
  });
  return { ok: true, document: { ...document, listeners } };
}

/** Adds a listener (a document table as `[[listeners]]` would give it). */
export function addListener(document: Document, listener: Document): EditResult {
  return { ok: true, document: { ...document, listeners: [...listenersOf(document), listener] } };
}

/** Removes listener `listener`. */
export function removeListener(document: Document, config: Config, listener: string): EditResult {
  const l = findListener(config, listener);
  if (l < 0) return { ok: false, status: 404, error: `no listener ${JSON.stringify(listener)}` };
  if (config.listeners.length === 1) return { ok: false, status: 400, error: "cannot delete the last listener" };
  // Unnamed port-0 listeners on one host are told apart by order: deleting one would renumber those after it.
  const target = config.listeners[l];
  const base = target.key.replace(/#\d+$/, "");
  const unnamed = (i: number) => listenersOf(document)[i]?.name === undefined;
  const shifts = target.listen.port === 0 && unnamed(l) &&
    config.listeners.some((o, i) => i > l && unnamed(i) && o.key.replace(/#\d+$/, "") === base);
  if (shifts) {
    return {
      ok: false,
      status: 400,
      error: `listeners on port 0 without a name are told apart by order; name them to delete one`,
    };
  }
  return { ok: true, document: { ...document, listeners: listenersOf(document).filter((_, i) => i !== l) } };
}
