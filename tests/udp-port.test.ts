/**
 * The runtime adapter's UDP sockets and health-check probes, through real
 * loopback sockets, against `node:dgram` and `node:net` peers (every runtime
 * under test implements them). Runs on whichever runtime runs the suite.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as dgram from "node:dgram";
import type * as net from "node:net";
import process from "node:process";
import { selectRuntime } from "../src/runtime/select.ts";
import { ConnectError, type SocketAddress, type UdpListener, type UdpUpstream } from "../src/runtime/types.ts";
import { startServer, waitFor } from "./helpers/net.ts";

const runtime = selectRuntime();
const LIMIT_MS = 5000;
const text = (data: Uint8Array) => new TextDecoder().decode(data);
const bytes = (s: string) => new TextEncoder().encode(s);

/** Items in arrival order; `next()` waits (bounded) for the next one. */
class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  get size(): number {
    return this.items.length;
  }

  next(what: string): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(deliver), 1);
        reject(new Error(`no ${what} within ${LIMIT_MS}ms`));
      }, LIMIT_MS);
      const deliver = (item: T) => {
        clearTimeout(timer);
        resolve(item);
      };
      this.waiters.push(deliver);
    });
  }
}

interface Received {
  data: Uint8Array;
  from: SocketAddress;
}

/** A `node:dgram` socket on `host`:0 that keeps what it receives and, with `echo`, sends it back. */
async function dgramPeer(host = "127.0.0.1", options: { echo?: boolean } = {}) {
  const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  const inbox = new Inbox<Received>();
  socket.on("error", () => {});
  socket.on("message", (data: Buffer, from: dgram.RemoteInfo) => {
    inbox.push({ data: new Uint8Array(data), from: { host: from.address, port: from.port } });
    if (options.echo) socket.send(data, from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, host, () => resolve());
  });
  return {
    port: socket.address().port,
    inbox,
    /** Sends and resolves once the datagram has left. */
    send: (data: Uint8Array, port: number, to = host) =>
      new Promise<void>((resolve, reject) => socket.send(data, port, to, (e) => (e ? reject(e) : resolve()))),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A port on `host` where nothing listens (bound, then released). */
async function closedUdpPort(host = "127.0.0.1"): Promise<number> {
  const peer = await dgramPeer(host);
  await peer.close();
  return peer.port;
}

async function closedTcpPort(): Promise<number> {
  const server = await startServer(() => {});
  await server.close();
  return server.port;
}

/** A listener whose datagrams land in an inbox; `echo` sends each back to its sender through `send`. */
async function inboxListener(host = "127.0.0.1", options: { echo?: boolean } = {}) {
  const inbox = new Inbox<Received>();
  let listener: UdpListener | undefined = undefined;
  listener = await runtime.net.listenUdp({ host, port: 0 }, (data, from) => {
    inbox.push({ data, from });
    if (options.echo) listener!.send(data, from);
  });
  return { listener, inbox };
}

/** An upstream socket whose replies land in an inbox, and whose errors in another. */
async function inboxUpstream(host: string, port: number) {
  const inbox = new Inbox<Uint8Array>();
  const errors = new Inbox<string>();
  const upstream: UdpUpstream = await runtime.net.connectUdp(
    { host, port, onError: (failure) => errors.push(failure) },
    (data) => inbox.push(data),
  );
  return { upstream, inbox, errors };
}

/** Asserts that `promise` rejects with a {@linkcode ConnectError} of `reason`. */
async function rejectsWith(promise: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${error}`);
    assert.equal(error.reason, reason, error.message);
    return true;
  });
}

describe(`udp port on ${runtime.name}`, () => {
  test("listenUdp on port 0 reports the port it bound", async () => {
    const { listener } = await inboxListener();
    try {
      assert.equal(listener.address.host, "127.0.0.1");
      assert.ok(listener.address.port > 0);
    } finally {
      await listener.close();
    }
  });

  test("listenUdp takes datagrams from two clients and send() replies reach the right one", async () => {
    const inbox = new Inbox<Received>();
    let listener: UdpListener | undefined = undefined;
    listener = await runtime.net.listenUdp({ host: "127.0.0.1", port: 0 }, (data, from) => {
      inbox.push({ data, from });
      listener!.send(bytes(`reply to ${text(data)}`), from);
    });
    const a = await dgramPeer();
    const b = await dgramPeer();
    try {
      await a.send(bytes("a"), listener.address.port);
      const first = await inbox.next("datagram from a");
      assert.deepEqual(first.from, { host: "127.0.0.1", port: a.port });
      await b.send(bytes("b"), listener.address.port);
      const second = await inbox.next("datagram from b");
      assert.deepEqual(second.from, { host: "127.0.0.1", port: b.port });
      assert.equal(text((await a.inbox.next("reply at a")).data), "reply to a");
      assert.equal(text((await b.inbox.next("reply at b")).data), "reply to b");
      assert.equal(a.inbox.size + b.inbox.size, 0, "a reply went to the wrong client");
    } finally {
      await Promise.all([a.close(), b.close(), listener.close()]);
    }
  });

  test("listenUdp holds its port alone, and close() releases it", async () => {
    const { listener } = await inboxListener();
    const port = listener.address.port;
    try {
      await assert.rejects(
        runtime.net.listenUdp({ host: "127.0.0.1", port }, () => {}),
        /Cannot listen on 127\.0\.0\.1:\d+: address in use/,
      );
    } finally {
      await listener.close();
    }
    const again = await runtime.net.listenUdp({ host: "127.0.0.1", port }, () => {});
    assert.equal(again.address.port, port);
    await again.close();
  });

  test("reusePort shares a port, spreading senders, exactly where supportsUdpReusePort says so", async () => {
    // Bun and Node (from 22.12 / 23.1) share a datagram port on Linux; Deno cannot (see its net.ts).
    if (process.platform === "linux") assert.equal(runtime.net.supportsUdpReusePort, runtime.name !== "deno");
    const counts = [0, 0];
    const first = await runtime.net.listenUdp({ host: "127.0.0.1", port: 0, reusePort: true }, () => counts[0]++);
    const port = first.address.port;
    try {
      const sharing = runtime.net.listenUdp({ host: "127.0.0.1", port, reusePort: true }, () => counts[1]++);
      if (!runtime.net.supportsUdpReusePort) {
        await assert.rejects(sharing, /address in use/);
        return;
      }
      const second = await sharing;
      const senders = [];
      try {
        for (let i = 0; i < 32; i++) {
          const sender = await dgramPeer();
          senders.push(sender);
          await sender.send(bytes("x"), port);
        }
        assert.ok(await waitFor(() => counts[0] + counts[1] === 32), `only ${counts} of 32 datagrams arrived`);
        assert.ok(counts[0] > 0 && counts[1] > 0, `senders were not spread: ${counts}`);
      } finally {
        await Promise.all([...senders.map((s) => s.close()), second.close()]);
      }
    } finally {
      await first.close();
    }
  });

  test("connectUdp sends to its peer and gets the replies", async () => {
    const peer = await dgramPeer("127.0.0.1", { echo: true });
    const { upstream, inbox } = await inboxUpstream("127.0.0.1", peer.port);
    try {
      assert.ok(upstream.local.port > 0);
      assert.ok(upstream.send(bytes("one")));
      assert.ok(upstream.send(bytes("two")));
      assert.deepEqual((await peer.inbox.next("datagram at the peer")).from.port, upstream.local.port);
      assert.equal(text(await inbox.next("first reply")), "one");
      assert.equal(text(await inbox.next("second reply")), "two");
    } finally {
      upstream.close();
      await peer.close();
    }
  });

  test("connectUdp drops datagrams from anyone but its peer", async () => {
    const peer = await dgramPeer("127.0.0.1", { echo: true });
    const stranger = await dgramPeer();
    const { upstream, inbox } = await inboxUpstream("127.0.0.1", peer.port);
    try {
      // The stranger's datagram is queued before the peer's reply: if it were kept, it would come first.
      await stranger.send(bytes("stranger"), upstream.local.port);
      assert.ok(upstream.send(bytes("peer")));
      assert.equal(text(await inbox.next("the peer's reply")), "peer");
      assert.equal(inbox.size, 0);
    } finally {
      upstream.close();
      await Promise.all([peer.close(), stranger.close()]);
    }
  });

  test("a burst of datagrams keeps its order through an upstream socket and a listener", async () => {
    const { listener, inbox } = await inboxListener("127.0.0.1", { echo: true });
    const { upstream, inbox: replies } = await inboxUpstream("127.0.0.1", listener.address.port);
    const count = 64;
    try {
      for (let i = 0; i < count; i++) assert.ok(upstream.send(bytes(`${i}`)));
      for (let i = 0; i < count; i++) assert.equal(text((await inbox.next(`datagram ${i}`)).data), `${i}`);
      for (let i = 0; i < count; i++) assert.equal(text(await replies.next(`reply ${i}`)), `${i}`);
    } finally {
      upstream.close();
      await listener.close();
    }
  });

  test("a 65,507-byte datagram crosses a listener intact both ways", async () => {
    const { listener, inbox } = await inboxListener("127.0.0.1", { echo: true });
    const client = await dgramPeer();
    const payload = new Uint8Array(randomBytes(65_507));
    try {
      await client.send(payload, listener.address.port);
      const received = await inbox.next("the large datagram");
      assert.equal(received.data.length, payload.length);
      assert.ok(Buffer.from(received.data).equals(payload), "the listener got different bytes");
      const echoed = await client.inbox.next("the large echo");
      assert.ok(Buffer.from(echoed.data).equals(payload), "the client got different bytes back");
    } finally {
      await Promise.all([client.close(), listener.close()]);
    }
  });

  test("a 65,507-byte datagram crosses an upstream socket intact both ways", async () => {
    const peer = await dgramPeer("127.0.0.1", { echo: true });
    const { upstream, inbox } = await inboxUpstream("127.0.0.1", peer.port);
    const payload = new Uint8Array(randomBytes(65_507));
    try {
      assert.ok(upstream.send(payload));
      const atPeer = await peer.inbox.next("the large datagram");
      assert.ok(Buffer.from(atPeer.data).equals(payload), "the peer got different bytes");
      const echoed = await inbox.next("the large echo");
      assert.ok(Buffer.from(echoed).equals(payload), "the upstream got different bytes back");
    } finally {
      upstream.close();
      await peer.close();
    }
  });

  test("send() answers false, not an exception, for an oversized datagram or a closed socket", async () => {
    const peer = await dgramPeer();
    const { listener } = await inboxListener();
    const { upstream } = await inboxUpstream("127.0.0.1", peer.port);
    const to = { host: "127.0.0.1", port: peer.port };
    try {
      assert.equal(listener.send(new Uint8Array(65_508), to), false);
      assert.equal(upstream.send(new Uint8Array(65_508)), false);
    } finally {
      upstream.close();
      upstream.close();
      await listener.close();
    }
    assert.equal(listener.send(bytes("late"), to), false);
    assert.equal(upstream.send(bytes("late")), false);
    await peer.close();
  });

  test("IPv6 on ::1: a listener and an upstream socket", async () => {
    const { listener, inbox } = await inboxListener("::1", { echo: true });
    const client = await dgramPeer("::1");
    const peer = await dgramPeer("::1", { echo: true });
    const { upstream, inbox: replies } = await inboxUpstream("::1", peer.port);
    try {
      assert.equal(listener.address.host, "::1");
      await client.send(bytes("six"), listener.address.port);
      assert.deepEqual((await inbox.next("datagram on ::1")).from, { host: "::1", port: client.port });
      assert.equal(text((await client.inbox.next("echo on ::1")).data), "six");
      assert.ok(upstream.send(bytes("up")));
      assert.equal(text(await replies.next("reply on ::1")), "up");
    } finally {
      upstream.close();
      await Promise.all([client.close(), peer.close(), listener.close()]);
    }
  });

  test("an IPv6 listener reports IPv4 senders without the mapped prefix and replies to them", async () => {
    // Bound to the IPv4-mapped loopback: an IPv6 socket that IPv4 clients reach, without leaving loopback.
    const { listener, inbox } = await inboxListener("::ffff:127.0.0.1", { echo: true });
    const client = await dgramPeer();
    try {
      await client.send(bytes("mapped"), listener.address.port);
      assert.deepEqual((await inbox.next("datagram from an IPv4 client")).from, {
        host: "127.0.0.1",
        port: client.port,
      });
      assert.equal(text((await client.inbox.next("echo to the IPv4 client")).data), "mapped");
    } finally {
      await Promise.all([client.close(), listener.close()]);
    }
  });

  test("connectUdp reports a closed port as refused where the runtime surfaces ICMP", {
    skip: runtime.name === "deno" ? "Deno cannot connect a datagram socket: no ICMP errors reach it" : false,
  }, async () => {
    const port = await closedUdpPort();
    const { upstream, errors } = await inboxUpstream("127.0.0.1", port);
    try {
      assert.ok(upstream.send(bytes("anyone?")));
      assert.equal(await errors.next("an error"), "refused");
    } finally {
      upstream.close();
    }
  });
});

describe(`probes on ${runtime.name}`, () => {
  const options = { host: "127.0.0.1", timeoutMs: 2000 };

  test("probeTcp reads a banner until enough() says so", async () => {
    const server = await startServer((socket) => {
      socket.write("SSH-2.0-");
      setTimeout(() => socket.write("sluice\r\n"), 20);
    });
    try {
      const banner = await runtime.net.probeTcp({ ...options, port: server.port, enough: (b) => b.includes(10) });
      assert.equal(text(banner), "SSH-2.0-sluice\r\n");
    } finally {
      await server.close();
    }
  });

  test("probeTcp sends a request and reads the reply to end-of-stream", async () => {
    const requests: string[] = [];
    const server = await startServer((socket) => {
      let request = "";
      socket.on("data", (chunk: Buffer) => {
        request += chunk.toString();
        if (!request.includes("\n")) return;
        requests.push(request);
        socket.end("PONG 1\nPONG 2\n");
      });
    });
    try {
      const reply = await runtime.net.probeTcp({ ...options, port: server.port, send: bytes("PING\n") });
      assert.equal(text(reply), "PONG 1\nPONG 2\n");
      assert.deepEqual(requests, ["PING\n"]);
    } finally {
      await server.close();
    }
  });

  test("probeTcp stops after maxBytes", async () => {
    const server = await startServer((socket) => socket.write(Buffer.alloc(10_000, 0x61)));
    try {
      const read = await runtime.net.probeTcp({ ...options, port: server.port, maxBytes: 100 });
      assert.equal(read.length, 100);
    } finally {
      await server.close();
    }
  });

  test("probeTcp times out against a server that never answers, and closes its socket", async () => {
    const accepted: net.Socket[] = [];
    const server = await startServer((socket) => accepted.push(socket));
    try {
      await rejectsWith(
        runtime.net.probeTcp({ ...options, port: server.port, timeoutMs: 200, send: bytes("hello?\n") }),
        "timeout",
      );
      assert.ok(await waitFor(() => accepted.length === 1), "the server never saw the probe");
      const socket = accepted[0];
      socket.resume();
      assert.ok(await waitFor(() => socket.readableEnded || socket.closed), "the probe left its connection open");
    } finally {
      await server.close();
    }
  });

  test("probeTcp rejects with refused on a closed port", async () => {
    await rejectsWith(runtime.net.probeTcp({ ...options, port: await closedTcpPort() }), "refused");
  });

  test("probeUdp gets the reply of an echo peer", async () => {
    const peer = await dgramPeer("127.0.0.1", { echo: true });
    try {
      const reply = await runtime.net.probeUdp({ ...options, port: peer.port, send: bytes("ping") });
      assert.equal(text(reply), "ping");
    } finally {
      await peer.close();
    }
  });

  test("probeUdp times out when nothing answers", async () => {
    const silent = await dgramPeer();
    try {
      await rejectsWith(
        runtime.net.probeUdp({ ...options, port: silent.port, timeoutMs: 200, send: bytes("ping") }),
        "timeout",
      );
      assert.equal(text((await silent.inbox.next("the probe datagram")).data), "ping");
    } finally {
      await silent.close();
    }
  });

  test("probeUdp on a closed port: refused where the runtime surfaces ICMP, else a timeout", async () => {
    const port = await closedUdpPort();
    const expected = runtime.name === "deno" ? "timeout" : "refused";
    await rejectsWith(runtime.net.probeUdp({ ...options, port, timeoutMs: 500, send: bytes("ping") }), expected);
  });
});
