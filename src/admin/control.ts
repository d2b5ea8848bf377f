/**
 * The admin API's mutations: backends drained, disabled, enabled and
 * weighted; listeners added and deleted; connections closed; the
 * configuration read, replaced, reloaded and restored; stats reset. Every
 * change of configuration goes through the {@linkcode Reloader} (validate,
 * bind first, then apply), so nothing is half-applied. JSON in, `{ ok: true,
 * ... }` or a 4xx with `error` (and key paths) out.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import { parseTomlDocument } from "../config/load.ts";
import { redact, REDACTED } from "../config/redact.ts";
import { backendKey } from "../config/schema.ts";
import type { Document } from "../config/sources.ts";
import type { BackupInfo } from "../control/config-file.ts";
import { addListener, findBackend, findListener, removeListener, setWeight } from "../control/edits.ts";
import type { Reloader, ReloadOutcome } from "../control/reloader.ts";
import type { HttpRequestInfo } from "../runtime/types.ts";
import type { AdminState, StateBook } from "../upstream/state.ts";

/** Largest request body: a configuration of a few thousand backends fits. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** What the mutations act on. */
export interface AdminControl {
  readonly reloader: Reloader;
  readonly states: StateBook;
  /** Tells every thread what an operator asked of a backend. */
  setAdmin(listener: string, backend: string, admin: AdminState): void;
  /** Aborts live session `id` (both sides, reason `admin`); false when none has it. */
  closeConnection(id: number): Promise<boolean>;
  /** Zeroes the API's counters and the history (not `/metrics`). */
  resetStats(): void;
  /** Backups of the configuration file (empty without one). */
  backups(): Promise<BackupInfo[]>;
}

type App = Hono<{ Bindings: HttpRequestInfo }>;
type Ctx = Context<{ Bindings: HttpRequestInfo }>;

/** Paths and the methods each takes, for 405 answers. */
export const CONTROL_PATHS: readonly [RegExp, string][] = [
  [/^\/api\/v1\/listeners\/[^/]+\/backends\/[^/]+\/(drain|disable|enable|weight)$/, "POST"],
  [/^\/api\/v1\/listeners$/, "POST"],
  [/^\/api\/v1\/listeners\/[^/]+$/, "DELETE"],
  [/^\/api\/v1\/connections\/\d+$/, "DELETE"],
  [/^\/api\/v1\/config$/, "GET, HEAD, POST"],
  [/^\/api\/v1\/config\/(reload|restore)$/, "POST"],
  [/^\/api\/v1\/config\/backups$/, "GET, HEAD"],
  [/^\/api\/v1\/stats\/reset$/, "POST"],
];

/** A body that failed: the reason, and key paths where there are some. */
type BodyError = { error: string; issues?: { path: string; message: string }[] };

/** Reads a JSON body against `schema`; unknown keys and wrong types name their key path. */
async function jsonBody<S extends v.GenericSchema>(
  c: Ctx,
  schema: S,
): Promise<{ ok: true; value: v.InferOutput<S> } | { ok: false; error: BodyError }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await c.req.text());
  } catch (error) {
    return { ok: false, error: { error: `the body is not JSON: ${(error as Error).message}` } };
  }
  const parsed = v.safeParse(schema, raw);
  if (parsed.success) return { ok: true, value: parsed.output };
  const issues = parsed.issues.map((issue) => ({
    path: (issue.path ?? []).map((p) => String(p.key)).join("."),
    message: issue.message,
  }));
  return { ok: false, error: { error: issues.map((i) => `${i.path || "body"}: ${i.message}`).join("; "), issues } };
}

/** `persist=true|false` (default false). */
function persistOf(c: Ctx): boolean | BodyError {
  const persist = c.req.query("persist");
  if (persist === undefined || persist === "false") return false;
  if (persist === "true") return true;
  return { error: `persist must be true or false, got ${JSON.stringify(persist)}` };
}

/** The answer for a reload's outcome. */
function answer(c: Ctx, outcome: ReloadOutcome) {
  const { ok, status, ...rest } = outcome;
  return c.json({ ok, ...rest }, status as 200);
}

/** Secrets given back as `<redacted>` keep their running values, so a config read and posted back works. */
function unredact(posted: Document, running: Document | undefined): Document {
  const admin = posted.admin as Record<string, unknown> | undefined;
  const was = running?.admin as Record<string, unknown> | undefined;
  if (!admin || typeof admin !== "object") return posted;
  const out = { ...admin };
  for (const key of ["password_hash", "token"]) if (out[key] === REDACTED) out[key] = was?.[key];
  return { ...posted, admin: out };
}

const WeightBody = v.strictObject({ weight: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000)) });
const RestoreBody = v.strictObject({ backup: v.pipe(v.string(), v.minLength(1)) });
const ListenerBody = v.strictObject({ listener: v.record(v.string(), v.unknown()) });

/** Registers the mutations and the config reads on `app`. */
export function controlRoutes(app: App, control: AdminControl): void {
  const { reloader } = control;
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json({ error: `the body is larger than ${MAX_BODY_BYTES} bytes` }, 413),
  });
  app.use("/api/v1/*", async (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD") return await next();
    return await limit(c, next);
  });

  // Backends: what an operator asks is kept by listener key and backend address, across reloads, until enable.
  for (const action of ["drain", "disable", "enable"] as const) {
    app.post(`/api/v1/listeners/:listener/backends/:backend/${action}`, async (c) => {
      const { listener, backend } = c.req.param();
      // In line with reloads, so that a listener being removed does not get its state back.
      const result = await reloader.exclusive(() => Promise.resolve(setState(listener, backend, action)), () => ({
        status: 503 as const,
        body: { error: "shutting down" },
      }));
      return c.json(result.body, result.status);
    });
  }

  /** Sets what an operator asked of a backend on every thread. */
  function setState(
    listener: string,
    backend: string,
    action: "drain" | "disable" | "enable",
  ): { status: 200 | 404 | 503; body: Record<string, unknown> } {
    const config = reloader.current;
    const l = findListener(config, listener);
    if (l < 0) return { status: 404 as const, body: { error: `no listener ${JSON.stringify(listener)}` } };
    const b = findBackend(config, l, backend);
    if (b < 0) {
      return {
        status: 404 as const,
        body: { error: `no backend ${JSON.stringify(backend)} in ${JSON.stringify(listener)}` },
      };
    }
    const lc = config.listeners[l];
    const key = backendKey(lc.backends[b]);
    const admin: AdminState = action === "drain" ? "draining" : action === "disable" ? "disabled" : "enabled";
    control.states.get(lc.key, key, lc).admin = admin;
    control.setAdmin(lc.key, key, admin);
    return {
      status: 200 as const,
      body: { ok: true, listener: lc.name, backend: lc.backends[b].name, address: key, admin } as Record<
        string,
        unknown
      >,
    };
  }

  app.post("/api/v1/listeners/:listener/backends/:backend/weight", async (c) => {
    const persist = persistOf(c);
    if (typeof persist !== "boolean") return c.json(persist, 400);
    const body = await jsonBody(c, WeightBody);
    if (!body.ok) return c.json(body.error, 400);
    const { listener, backend } = c.req.param();
    const outcome = await reloader.edit(
      (document, config) => setWeight(document, config, listener, backend, body.value.weight),
      persist,
    );
    return answer(c, outcome);
  });

  app.post("/api/v1/listeners", async (c) => {
    const persist = persistOf(c);
    if (typeof persist !== "boolean") return c.json(persist, 400);
    const body = await jsonBody(c, ListenerBody);
    if (!body.ok) return c.json(body.error, 400);
    return answer(c, await reloader.edit((document) => addListener(document, body.value.listener), persist));
  });

  app.delete("/api/v1/listeners/:listener", async (c) => {
    const persist = persistOf(c);
    if (typeof persist !== "boolean") return c.json(persist, 400);
    const { listener } = c.req.param();
    return answer(c, await reloader.edit((document, config) => removeListener(document, config, listener), persist));
  });

  app.delete("/api/v1/connections/:id", async (c) => {
    const raw = c.req.param("id");
    const id = Number(raw);
    if (!/^\d{1,15}$/.test(raw) || !Number.isSafeInteger(id)) {
      return c.json({ error: `a connection id is a positive integer, got ${JSON.stringify(raw)}` }, 400);
    }
    if (!(await control.closeConnection(id))) return c.json({ error: `no live connection ${id}` }, 404);
    return c.json({ ok: true, id, reason: "admin" });
  });

  app.get("/api/v1/config", (c) => {
    const document = reloader.document;
    if (!document) return c.json({ error: "started without a configuration document" }, 404);
    const shown = redact(document);
    if ((c.req.header("accept") ?? "").includes("application/json")) return c.json(shown);
    return c.body(reloader.toml(shown), 200, { "content-type": "application/toml; charset=utf-8" });
  });

  app.post("/api/v1/config", async (c) => {
    const persist = persistOf(c);
    if (typeof persist !== "boolean") return c.json(persist, 400);
    const type = c.req.header("content-type") ?? "";
    const text = await c.req.text();
    let document: Document;
    if (type.includes("toml")) {
      const parsed = parseTomlDocument(text);
      if (!parsed.ok) return answer(c, reloader.reject("api", parsed.issues));
      document = parsed.document;
    } else {
      try {
        document = JSON.parse(text);
      } catch (error) {
        return answer(c, reloader.reject("api", [{ path: "", message: `not JSON: ${(error as Error).message}` }]));
      }
      if (typeof document !== "object" || document === null || Array.isArray(document)) {
        return answer(c, reloader.reject("api", [{ path: "", message: "must be a configuration object" }]));
      }
    }
    return answer(c, await reloader.applyDocument(unredact(document, reloader.document), "api", persist));
  });

  app.post("/api/v1/config/reload", async (c) => {
    const outcome = await reloader.reloadFile("api");
    return answer(c, outcome!);
  });

  app.get("/api/v1/config/backups", async (c) => c.json({ backups: await control.backups() }));

  app.post("/api/v1/config/restore", async (c) => {
    const body = await jsonBody(c, RestoreBody);
    if (!body.ok) return c.json(body.error, 400);
    return answer(c, await reloader.restore(body.value.backup));
  });

  app.post("/api/v1/stats/reset", (c) => {
    control.resetStats();
    return c.json({ ok: true, note: "API counters and history start again from zero; /metrics counters do not" });
  });
}
