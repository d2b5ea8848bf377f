/**
 * Test-side sockets: plain `node:net` servers and clients (every runtime
 * under test implements it), so the proxy is exercised by a peer that is not
 * its own adapter.
 */
import * as net from "node:net";
import { createHash, randomBytes } from "node:crypto";

export interface TestServer {
  port: number;
  /** Every socket the server accepted, for tests that inspect or close them. */
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

/** Starts a TCP server on 127.0.0.1 (`port`, or one the OS picks); `close()` also destroys its open sockets. */
export async function startServer(
  onSocket: (socket: net.Socket) => void,
  options: net.ServerOpts = {},
  port = 0,
): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, ...options }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Connects to 127.0.0.1:port with half-open allowed; rejects on connect error. */
export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      resolve(socket);
    });
  });
}

/**
 * A backend handler that reads the request to its end, then replies and closes.
 * (Replying at once is not used: Deno's node:net server drops bytes written in
 * the connection callback when the client's FIN arrives first.)
 */
export function replyAfterRequest(reply: string): (socket: net.Socket) => void {
  return (socket) => void readAll(socket).then(() => socket.end(reply), () => {});
}

/** Connects, sends `payload` and FIN, reads the reply to its end and waits for the close. */
export async function exchange(port: number, payload = ""): Promise<string> {
  const socket = await connect(port);
  const reply = readAll(socket);
  socket.end(payload);
  const text = (await reply).toString();
  await closed(socket);
  return text;
}

/** Reads until end-of-stream; resolves with everything read. Rejects on error. */
export function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.once("end", () => resolve(Buffer.concat(chunks)));
    socket.once("error", reject);
  });
}

/** Counts and hashes bytes until end-of-stream, without keeping them. */
export function digestUntilEnd(socket: net.Socket): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    let bytes = 0;
    socket.on("data", (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    socket.once("end", () => resolve({ bytes, sha256: hash.digest("hex") }));
    socket.once("error", reject);
  });
}

/** Resolves when the peer's end-of-stream arrives or the socket closes, whichever is first. */
export function ended(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readableEnded || socket.closed) return resolve();
    socket.once("end", () => resolve());
    socket.once("close", () => resolve());
    socket.resume();
  });
}

/** How the peer ended a socket: `fin` (end-of-stream) or `reset` (an error such as ECONNRESET). */
export function howEnded(socket: net.Socket): Promise<"fin" | "reset"> {
  return new Promise((resolve) => {
    socket.once("end", () => resolve("fin"));
    socket.once("error", () => resolve("reset"));
    socket.resume();
  });
}

/** Resolves when the socket has closed (for any reason). */
export function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => (socket.closed ? resolve() : socket.once("close", () => resolve())));
}

/**
 * Writes `total` bytes of random data in 1 MiB blocks, honouring backpressure,
 * then ends the socket unless told not to. Resolves with the SHA-256 of what was sent.
 */
export async function sendRandom(socket: net.Socket, total: number, options: { end?: boolean } = {}): Promise<string> {
  const hash = createHash("sha256");
  const block = randomBytes(Math.min(total, 1 << 20));
  let sent = 0;
  while (sent < total) {
    block[0] = (block[0] + 1) & 0xff; // vary blocks so reordering would show in the hash
    // A copy: write() keeps a reference until the bytes are sent.
    const chunk = Buffer.from(block.subarray(0, Math.min(block.length, total - sent)));
    hash.update(chunk);
    sent += chunk.length;
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onClose = () => reject(new Error(`socket closed after ${sent} of ${total} bytes`));
        socket.once("close", onClose);
        socket.once("drain", () => {
          socket.removeListener("close", onClose);
          resolve();
        });
      });
    }
  }
  if (options.end !== false) socket.end();
  return hash.digest("hex");
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 10 ms until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await delay(10);
  }
  return true;
}

/** As {@linkcode waitFor}, for a check that has to wait for something itself (an HTTP call). */
export async function waitForAsync(check: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await delay(25);
  }
  return true;
}

/** A port number the OS just handed out and nothing listens on now (good enough on a quiet machine). */
export async function freePort(): Promise<number> {
  const server = await startServer(() => {});
  await server.close();
  return server.port;
}
