/**
 * A stats reset for the API without touching `/metrics`: Prometheus counters
 * must never go backwards, so the counters stay as they are and the API's
 * view subtracts what they said at the reset. Works on the JSON view: every
 * number under a key ending in `_total` is a counter; gauges, states and
 * names pass through. Entities in arrays are matched by `name`.
 *
 * @module
 */

type Json = unknown;

/** True for a plain JSON object. */
function isObject(value: Json): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `now` minus `base` in every counter (`counting`: inside a `*_total` key). */
function minus(now: Json, base: Json, counting: boolean): Json {
  if (typeof now === "number") {
    // A counter below its baseline belongs to an entity that came back after the reset: show it whole.
    return counting && typeof base === "number" && now >= base ? now - base : now;
  }
  if (Array.isArray(now)) {
    const named = Array.isArray(base) ? new Map(base.filter(isObject).map((e) => [e.name, e])) : new Map();
    return now.map((entry) => (isObject(entry) ? minus(entry, named.get(entry.name), counting) : entry));
  }
  if (isObject(now)) {
    const out: Record<string, Json> = {};
    for (const [key, value] of Object.entries(now)) {
      out[key] = minus(value, isObject(base) ? base[key] : undefined, counting || key.endsWith("_total"));
    }
    return out;
  }
  return now;
}

/** The counters of a view as of the last reset. */
export class Baseline {
  private base: Json = undefined;
  /** Wall-clock ms of the last reset; undefined when there was none. */
  resetAt: number | undefined;

  /** Takes `view` as the new zero. */
  reset(view: Json, wallNow: number): void {
    this.base = structuredClone(view);
    this.resetAt = wallNow;
  }

  /** `view` with the counters counted from the last reset. */
  apply<T>(view: T): T {
    return this.base === undefined ? view : (minus(view, this.base, false) as T);
  }
}
