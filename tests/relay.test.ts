/**
 * The runtime adapter's relay, through real loopback sockets: integrity,
 * half-close both ways, resets, abort. Runs on whichever runtime runs the suite.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type * as net from "node:net";
import process from "node:process";
import { selectRuntime } from "../src/runtime/select.ts";
import type { Relay, RelayResult, RelayTally, TcpListener } from "../src/runtime/types.ts";
import {
  closed,
  connect,
  delay,
  digestUntilEnd,
  ended,
  readAll,
  sendRandom,
  startServer,
  type TestServer,
  waitFor,
} from "./helpers/net.ts";

const runtime = selectRuntime();

/**
 * A bare proxy made of the adapter's three TCP ports and nothing else.
 * `dialDelayMs` holds each client before the upstream is dialled, as a slow connect would.
 */
async function startBareProxy(backendPort: number, dialDelayMs = 0) {
  const relays: { relay: Relay; tally: RelayTally; result?: RelayResult }[] = [];
  const listener: TcpListener = await runtime.net.listenTcp({ host: "127.0.0.1", port: 0 }, async (client) => {
    if (dialDelayMs > 0) await delay(dialDelayMs);
    const upstream = await runtime.net.connectTcp({ host: "127.0.0.1", port: backendPort, timeoutMs: 2000 });
    const tally: RelayTally = { toUpstream: 0, toClient: 0 };
    const entry: (typeof relays)[number] = { relay: runtime.net.relayTcp(client, upstream, tally), tally };
    relays.push(entry);
    entry.result = await entry.relay.done;
  });
  /** The relay for the `index`-th connection, once it exists. */
  async function relayAt(index: number) {
    assert.ok(await waitFor(() => relays.length > index), "the proxy never relayed the connection");
    return relays[index];
  }
  return { port: listener.address.port, relays, relayAt, close: () => listener.close() };
}

describe(`relay on ${runtime.name}`, () => {
  let backend: TestServer;
  let onBackend: (socket: net.Socket) => void = () => {};
  let proxy: Awaited<ReturnType<typeof startBareProxy>>;

  before(async () => {
    backend = await startServer((socket) => onBackend(socket));
    proxy = await startBareProxy(backend.port);
  });

  after(async () => {
    await proxy.close();
    await backend.close();
  });

  /** Makes the backend swallow what it gets; resolves with its socket for the next connection. */
  function sinkBackend(): Promise<net.Socket> {
    return new Promise((resolve) => {
      onBackend = (socket) => {
        socket.on("data", () => {});
        resolve(socket);
      };
    });
  }

  test("relay carries 64 MiB each way intact and counts every byte", async () => {
    const size = 64 << 20;
    const backendSide = new Promise<{ received: { bytes: number; sha256: string }; sent: string }>((resolve) => {
      onBackend = (socket) => {
        const received = digestUntilEnd(socket);
        const sent = sendRandom(socket, size);
        Promise.all([received, sent]).then(([r, s]) => resolve({ received: r, sent: s }));
      };
    });
    const index = proxy.relays.length;
    const client = await connect(proxy.port);
    const [clientSent, clientReceived] = await Promise.all([sendRandom(client, size), digestUntilEnd(client)]);
    const server = await backendSide;
    assert.equal(server.received.bytes, size);
    assert.equal(server.received.sha256, clientSent);
    assert.equal(clientReceived.bytes, size);
    assert.equal(clientReceived.sha256, server.sent);
    await closed(client);
    const entry = await proxy.relayAt(index);
    const result = await entry.relay.done;
    assert.ok(result.outcome === "client_closed" || result.outcome === "upstream_closed", result.outcome);
    assert.deepEqual(entry.tally, { toUpstream: size, toClient: size });
  });

  test("bytes and a FIN that arrive before the upstream is connected are all delivered, in order", async () => {
    const slow = await startBareProxy(backend.port, 150);
    try {
      // 4 MiB is far beyond what an adapter may hold before the relay starts; 100 bytes fits whole, FIN included.
      for (const size of [4 << 20, 100]) {
        const received = new Promise<{ bytes: number; sha256: string }>((resolve) => {
          onBackend = (socket) => resolve(digestUntilEnd(socket).finally(() => socket.end()));
        });
        const client = await connect(slow.port);
        const sent = await sendRandom(client, size);
        const got = await received;
        assert.deepEqual(got, { bytes: size, sha256: sent });
        await closed(client);
      }
      const entry = await slow.relayAt(0);
      await entry.relay.done;
      assert.equal(entry.tally.toUpstream, 4 << 20);
    } finally {
      await slow.close();
    }
  });

  test("a live relay's tally shows the bytes already passed on, through readTally() where the runtime counts", async () => {
    const backendGot = new Promise<net.Socket>((resolve) => {
      onBackend = (socket) => {
        let bytes = 0;
        socket.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes === 5000) resolve(socket);
        });
      };
    });
    const index = proxy.relays.length;
    const client = await connect(proxy.port);
    client.write(Buffer.alloc(5000));
    const backendSocket = await backendGot;
    const entry = await proxy.relayAt(index);
    const counted = await waitFor(() => {
      entry.relay.readTally?.();
      return entry.tally.toUpstream === 5000;
    });
    assert.ok(counted, `tally.toUpstream is ${entry.tally.toUpstream}, expected 5000`);
    assert.equal(entry.tally.toClient, 0);
    client.end();
    backendSocket.end();
    await closed(client);
    await entry.relay.done;
  });

  test("client half-close: the client's FIN reaches the backend and the whole reply still comes back", async () => {
    onBackend = async (socket) => {
      const request = await readAll(socket); // only ends when the client's FIN arrives
      await sendRandom(socket, 4 << 20, { end: false });
      socket.end(`|${request.toString()}|done`);
    };
    const index = proxy.relays.length;
    const client = await connect(proxy.port);
    client.end("ping");
    const reply = await readAll(client);
    assert.equal(reply.length, (4 << 20) + "|ping|done".length);
    assert.equal(reply.subarray(-10).toString(), "|ping|done");
    await closed(client);
    assert.equal((await (await proxy.relayAt(index)).relay.done).outcome, "client_closed");
  });

  test("upstream half-close: the backend's FIN reaches the client, which can still send", async () => {
    const backendGot = new Promise<string>((resolve) => {
      onBackend = (socket) => {
        socket.end("banner"); // FIN first, then keep reading
        readAll(socket).then((b) => resolve(b.toString()));
      };
    });
    const index = proxy.relays.length;
    const client = await connect(proxy.port);
    const banner = await readAll(client); // ends on the backend's FIN
    assert.equal(banner.toString(), "banner");
    client.end("sent after the backend's FIN");
    assert.equal(await backendGot, "sent after the backend's FIN");
    await closed(client);
    assert.equal((await (await proxy.relayAt(index)).relay.done).outcome, "upstream_closed");
  });

  test("a client reset mid-stream ends the relay as client_error and closes the backend side", async () => {
    const backendSocket = sinkBackend();
    const index = proxy.relays.length;
    const client = await connect(proxy.port);
    client.write(Buffer.alloc(64 * 1024));
    await delay(50);
    client.resetAndDestroy();
    const result = await (await proxy.relayAt(index)).relay.done;
    assert.equal(result.outcome, "client_error");
    await ended(await backendSocket);
  });

  test("a backend reset ends the relay as upstream_error and closes the client", async () => {
    onBackend = (socket) => {
      socket.write("partial");
      setTimeout(() => socket.resetAndDestroy(), 50);
    };
    const index = proxy.relays.length;
    const client = await connect(proxy.port);
    client.on("error", () => {});
    client.on("data", () => {});
    const result = await (await proxy.relayAt(index)).relay.done;
    assert.equal(result.outcome, "upstream_error");
    await ended(client);
  });

  test("listenTcp() on a port in use rejects with `Cannot listen on ...`", async () => {
    await assert.rejects(
      runtime.net.listenTcp({ host: "127.0.0.1", port: proxy.port }, (conn) => conn.abort()),
      (error: Error) => {
        assert.match(error.message, /^Cannot listen on 127\.0\.0\.1:\d+: /);
        return true;
      },
    );
  });

  test("reusePort shares a TCP port, spreading connections, where supportsReusePort says so", async () => {
    // Workers and --takeover depend on it, and their tests follow supportsReusePort: a probe that wrongly said
    // no would quietly turn them into one-thread tests. On Linux every runtime here shares a port (Node from
    // 22.12 / 23.1, older than the type stripping the suite needs).
    if (process.platform === "linux") assert.equal(runtime.net.supportsReusePort, true);
    // Elsewhere the option may not even be asked for (Deno without the `net` flag ends the process).
    if (!runtime.net.supportsReusePort) return;
    const counts = [0, 0];
    const accept = (i: number) => (conn: { abort(): void }) => {
      counts[i]++;
      conn.abort();
    };
    const first = await runtime.net.listenTcp({ host: "127.0.0.1", port: 0, reusePort: true }, accept(0));
    const port = first.address.port;
    try {
      const second = await runtime.net.listenTcp({ host: "127.0.0.1", port, reusePort: true }, accept(1));
      try {
        for (let i = 0; i < 32; i++) {
          const client = await connect(port);
          client.on("error", () => {});
          client.destroy();
        }
        assert.ok(await waitFor(() => counts[0] + counts[1] === 32), `only ${counts} of 32 connections accepted`);
        assert.ok(counts[0] > 0 && counts[1] > 0, `connections were not spread: ${counts}`);
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });

  test("abort() closes both sides at once and reports aborted", async () => {
    const backendSocket = sinkBackend();
    const index = proxy.relays.length;
    const client = await connect(proxy.port);
    client.on("error", () => {});
    client.write("hello");
    await delay(50);
    const entry = await proxy.relayAt(index);
    entry.relay.abort();
    entry.relay.abort(); // idempotent
    assert.equal((await entry.relay.done).outcome, "aborted");
    await ended(client);
    await ended(await backendSocket);
  });
});
