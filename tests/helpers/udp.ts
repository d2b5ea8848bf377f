/** Test-side UDP peers on `node:dgram` (every runtime under test implements it). */
import * as dgram from "node:dgram";

/** A UDP server that answers through `reply` (or not, when it returns undefined). */
export interface UdpServer {
  port: number;
  /** Datagrams received, in order. */
  received: number;
  close(): Promise<void>;
}

/** Starts a UDP server on `host`:0; `reply(data)` gives the answer for each datagram. */
export function startUdpServer(
  reply: (data: Buffer) => Buffer | string | undefined,
  host = "127.0.0.1",
): Promise<UdpServer> {
  const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  const server: UdpServer = {
    port: 0,
    received: 0,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on("message", (data, from) => {
    server.received++;
    const answer = reply(data);
    if (answer !== undefined) socket.send(answer, from.port, from.address);
  });
  socket.on("error", () => {});
  return new Promise((resolve) =>
    socket.bind(0, host, () => {
      server.port = socket.address().port;
      resolve(server);
    })
  );
}

/** A UDP client: `ask(data)` sends one datagram and resolves with the next reply, or undefined after `ms`. */
export interface UdpClient {
  ask(data: Buffer | string, ms?: number): Promise<Buffer | undefined>;
  close(): void;
}

/** A client bound to an ephemeral port that talks to `host`:`port`. */
export function udpClient(port: number, host = "127.0.0.1"): Promise<UdpClient> {
  const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  const inbox: Buffer[] = [];
  let waiter: ((data: Buffer) => void) | undefined;
  socket.on("message", (data) => {
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w(data);
    } else inbox.push(data);
  });
  socket.on("error", () => {});
  return new Promise((resolve) =>
    socket.bind(0, host, () =>
      resolve({
        ask(data, ms = 2000) {
          socket.send(data, port, host);
          if (inbox.length) return Promise.resolve(inbox.shift());
          return new Promise((done) => {
            const timer = setTimeout(() => {
              waiter = undefined;
              done(undefined);
            }, ms);
            waiter = (reply) => {
              clearTimeout(timer);
              done(reply);
            };
          });
        },
        close: () => socket.close(),
      }))
  );
}
