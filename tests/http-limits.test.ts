/**
 * Request-size limits of the runtime adapter's HTTP port over a real
 * loopback socket: a path and query over 8 KiB get 414 with a JSON error,
 * headers up to the 64 KiB head bound still work, and past that bound each
 * runtime's own parser answers (recorded here, since none lets us).
 * Requests go out on a raw socket so nothing trims or rejects them first.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { selectRuntime } from "../src/runtime/select.ts";
import type { HttpServer } from "../src/runtime/types.ts";

const runtime = selectRuntime();

/**
 * What each runtime answers, before our handler runs, to a head over its
 * limit (about 64 KiB): Node (llhttp, `maxHeaderSize` raised to 64 KiB) and
 * Bun (process-wide limit raised to 64 KiB) 431, Deno (fixed) 400.
 */
const OVER_HEAD_LIMIT: Record<string, number> = { node: 431, bun: 431, deno: 400 };

/** Sends `head` on a fresh connection; resolves with the status and body of the reply (or what came before a reset). */
function send(port: number, head: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    const done = () => {
      clearTimeout(timer);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const split = text.indexOf("\r\n\r\n");
      resolve({ status, body: split < 0 ? "" : text.slice(split + 4) });
    };
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    // A server that refuses a request it has not read to the end resets the connection after its reply.
    socket.on("error", () => {});
    socket.on("close", done);
    socket.write(head);
  });
}

/** A GET whose path and query are `bytes` long, with optional extra header lines. */
function get(port: number, bytes: number, headers = "") {
  const path = `/p?q=${"a".repeat(bytes - 5)}`;
  assert.equal(path.length, bytes);
  return send(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Connection: close\r\n\r\n`);
}

describe(`http request limits on ${runtime.name}`, () => {
  let server: HttpServer;
  let port = 0;

  before(async () => {
    server = await runtime.http.serve(
      { host: "127.0.0.1", port: 0 },
      (request) => Response.json({ length: request.url.length - new URL(request.url).origin.length }),
    );
    port = server.address.port;
  });

  after(async () => {
    await server.close();
  });

  test("a URL of up to 8,192 bytes of path and query reaches the handler", async () => {
    for (const bytes of [8000, 8192]) {
      const reply = await get(port, bytes);
      assert.equal(reply.status, 200, `${bytes} bytes`);
      assert.deepEqual(JSON.parse(reply.body), { length: bytes });
    }
  });

  test("a longer one gets 414 with a JSON error, up to the 64 KiB head bound", async () => {
    for (const bytes of [8193, 9000, 20 * 1024, 60 * 1024]) {
      const reply = await get(port, bytes);
      assert.equal(reply.status, 414, `${bytes} bytes`);
      assert.match(JSON.parse(reply.body).error, new RegExp(`^URI too long: ${bytes} bytes`));
    }
  });

  test("headers up to the bound still work", async () => {
    const reply = await get(port, 100, `X-Big: ${"b".repeat(60_000)}\r\n`);
    assert.equal(reply.status, 200);
  });

  test(`past the bound the runtime answers by itself: ${OVER_HEAD_LIMIT[runtime.name]}`, async () => {
    assert.equal((await get(port, 100 * 1024)).status, OVER_HEAD_LIMIT[runtime.name], "a 100 KiB URL");
    assert.equal((await get(port, 100, `X-Big: ${"b".repeat(100 * 1024)}\r\n`)).status, OVER_HEAD_LIMIT[runtime.name]);
  });
});
