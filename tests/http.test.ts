/**
 * The runtime adapter's HTTP port, through a real loopback socket: the
 * handler learns the client's address, and a busy port is reported.
 * Runs on whichever runtime runs the suite.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import { selectRuntime } from "../src/runtime/select.ts";
import type { HttpServer } from "../src/runtime/types.ts";

const runtime = selectRuntime();

/** GETs `path` from 127.0.0.1:port, bound to 127.0.0.1; resolves with the body and the client's own port. */
function get(port: number, path: string): Promise<{ status: number; body: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path, localAddress: "127.0.0.1", agent: false }, (response) => {
      const localPort = response.socket.localPort ?? 0;
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on(
        "end",
        () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString(), localPort }),
      );
      response.on("error", reject);
    });
    request.on("error", reject);
  });
}

describe(`http on ${runtime.name}`, () => {
  let server: HttpServer;

  before(async () => {
    server = await runtime.http.serve(
      { host: "127.0.0.1", port: 0 },
      (request, info) => Response.json({ path: new URL(request.url).pathname, remote: info.remote }),
    );
  });

  after(async () => {
    await server.close();
  });

  test("serve() reports the port it bound", () => {
    assert.equal(server.address.host, "127.0.0.1");
    assert.ok(server.address.port > 0, `port ${server.address.port}`);
  });

  test("the handler gets the request and the client's address", async () => {
    const reply = await get(server.address.port, "/whoami");
    assert.equal(reply.status, 200);
    const seen = JSON.parse(reply.body) as { path: string; remote: { host: string; port: number } };
    assert.equal(seen.path, "/whoami");
    assert.equal(seen.remote.host, "127.0.0.1");
    assert.equal(typeof seen.remote.port, "number");
    assert.ok(seen.remote.port > 0, `port ${seen.remote.port}`);
    assert.equal(seen.remote.port, reply.localPort);
  });

  test("serve() on a port in use rejects with `Cannot listen on ...`", async () => {
    await assert.rejects(
      runtime.http.serve({ host: "127.0.0.1", port: server.address.port }, () => new Response("never")),
      (error: Error) => {
        assert.match(error.message, /^Cannot listen on 127\.0\.0\.1:\d+: /);
        return true;
      },
    );
  });
});
