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
    return counting && typeof base === "number" && now >= base ? now - base : now;
  }
  if (Array.isArray(now)) {
    const named = Array.isArray(base) ? new Map(base.filter(isObject).map((e) => [e.name, e])) : new Map();
    return now.map((entry) => {
      if (!isObject(entry)) return entry;
      const was = named.get(entry.name);
      // Fewer connections than at the reset: an entity that was forgotten and came back, counting from zero.
      const reborn = isObject(was) && typeof entry.connections_total === "number" &&
        typeof was.connections_total === "number" && entry.connections_total < was.connections_total;
      if (reborn && Array.isArray(base)) base.splice(base.indexOf(was), 1);
      return minus(entry, reborn ? undefined : was, counting);
    });
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
