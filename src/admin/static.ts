/**
 * The status page's static files, from the generated module (so the compiled
 * binary needs no files beside it): validated by ETag, cached by browsers,
 * and compressed when the client accepts it.
 *
 * @module
 */
import type { Hono } from "hono";
import { compress } from "hono/compress";
import type { HttpRequestInfo } from "../runtime/types.ts";
import { ASSETS } from "./assets.gen.ts";

/** Browsers may keep a file an hour without asking; after that a 304 costs a round trip and no body. */
const CACHE_CONTROL = "public, max-age=3600";

/** Serves `/static/:name`. */
export function staticRoutes(app: Hono<{ Bindings: HttpRequestInfo }>): void {
  app.use("/static/*", compress());
  app.get("/static/:name", (c) => {
    const asset = Object.hasOwn(ASSETS, c.req.param("name")) ? ASSETS[c.req.param("name")] : undefined;
    if (!asset) return c.json({ error: `no such file: ${c.req.path}` }, 404);
    const headers = { ETag: asset.etag, "Cache-Control": CACHE_CONTROL };
    const seen = c.req.header("if-none-match");
    if (seen !== undefined && seen.split(",").some((tag) => tag.trim().replace(/^W\//, "") === asset.etag)) {
      return c.body(null, 304, headers);
    }
    return c.body(asset.body, 200, { ...headers, "Content-Type": asset.type });
  });
}
