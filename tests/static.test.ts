/**
 * The status page's static files over real HTTP: served from the generated
 * module with ETag and Cache-Control, 304 on a matching If-None-Match,
 * gzip when accepted, 404 otherwise; and the module matches node_modules and
 * static/ as they are (`npm run assets` regenerates it).
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { startSluice } from "../src/compose.ts";
import { loadObject } from "../src/config/load.ts";
import { selectRuntime } from "../src/runtime/select.ts";
import { renderAssets } from "../scripts/embed-assets.ts";
import { memoryLog } from "./helpers/log.ts";
import { connect } from "./helpers/net.ts";

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A raw HTTP/1.1 GET: status, headers and body bytes (fetch would undo the compression). */
async function get(port: number, path: string, headers: Record<string, string> = {}) {
  const socket = await connect(port);
  const lines = Object.entries({ Host: "127.0.0.1", Connection: "close", ...headers }).map(([k, v]) => `${k}: ${v}`);
  socket.write(`GET ${path} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const all = Buffer.concat(chunks);
  const split = all.indexOf("\r\n\r\n");
  const head = all.subarray(0, split).toString().split("\r\n");
  const fields = new Map(
    head.slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
  );
  let body = all.subarray(split + 4);
  if (fields.get("transfer-encoding") === "chunked") {
    const parts: Buffer[] = [];
    for (let at = 0; at < body.length;) {
      const eol = body.indexOf("\r\n", at);
      const size = parseInt(body.subarray(at, eol).toString(), 16);
      if (!size) break;
      parts.push(body.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  return { status: Number(head[0].split(" ")[1]), headers: fields, body };
}

test("static files: ETag, 304, gzip, 404", async () => {
  const loaded = loadObject({
    admin: { listen: "127.0.0.1:0" },
    listeners: [{ listen: "127.0.0.1:0", backends: [{ address: "127.0.0.1:9" }] }],
  });
  assert.ok(loaded.ok);
  const sluice = await startSluice(selectRuntime(), loaded.config, { log: memoryLog().log });
  cleanups.push(() => sluice.shutdown());
  const port = sluice.adminAddress!.port;

  const htmx = readFileSync(new URL("../node_modules/htmx.org/dist/htmx.min.js", import.meta.url), "utf8");
  const plain = await get(port, "/static/htmx.min.js");
  assert.equal(plain.status, 200);
  assert.match(plain.headers.get("content-type")!, /^text\/javascript/);
  assert.equal(plain.headers.get("cache-control"), "public, max-age=3600");
  assert.equal(plain.body.toString(), htmx);
  const etag = plain.headers.get("etag")!;
  assert.match(etag, /^"[0-9a-f]{16}"$/);

  const again = await get(port, "/static/htmx.min.js", { "If-None-Match": etag });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);

  const zipped = await get(port, "/static/uPlot.min.js", { "Accept-Encoding": "gzip" });
  assert.equal(zipped.status, 200);
  assert.equal(zipped.headers.get("content-encoding"), "gzip");
  const uplot = readFileSync(new URL("../node_modules/uplot/dist/uPlot.iife.min.js", import.meta.url), "utf8");
  assert.equal(gunzipSync(zipped.body).toString(), uplot);
  assert.ok(zipped.body.length < uplot.length / 2, `compressed to ${zipped.body.length} of ${uplot.length} bytes`);

  assert.equal((await get(port, "/static/nope.js")).status, 404);
  assert.equal((await get(port, "/static/constructor")).status, 404);
});

test("the embedded assets match node_modules and static/ (npm run assets regenerates them)", () => {
  const current = readFileSync(new URL("../src/admin/assets.gen.ts", import.meta.url), "utf8");
  assert.ok(current === renderAssets(), "src/admin/assets.gen.ts is out of date: run npm run assets");
});
