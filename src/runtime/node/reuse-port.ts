/**
 * Whether this Node really shares a port between sockets (`SO_REUSEPORT`),
 * found out by trying. Node >= 22.12 / 23.1 pass `reusePort` to the kernel;
 * older ones drop an option they do not know without a word (the second bind
 * then fails with `EADDRINUSE`), and where the platform has no `SO_REUSEPORT`
 * (macOS, Windows) even the first bind fails. A version check would guess at
 * all three; two binds on one loopback port tell.
 *
 * Binding is asynchronous and the answer is read synchronously
 * (`NetPort.supportsReusePort`), so `src/runtime/select.ts` awaits
 * {@linkcode probeReusePort} once, at load, before anyone can ask.
 *
 * @module
 */
import * as dgram from "node:dgram";
import * as net from "node:net";
import { closeSocket } from "./udp.ts";

/** What {@linkcode probeReusePort} found; nothing is shared until it has run. */
export const reusePort = { tcp: false, udp: false };

let probing: Promise<void> | undefined;

/** Binds two TCP listeners and two datagram sockets to one port each (on 127.0.0.1), once per thread. */
export function probeReusePort(): Promise<void> {
  probing ??= Promise.all([sharesTcp(), sharesUdp()]).then(([tcp, udp]) => {
    reusePort.tcp = tcp;
    reusePort.udp = udp;
  });
  return probing;
}

const HOST = "127.0.0.1";

function listenTcp(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ host: HOST, port, reusePort: true }, () => resolve(server));
  });
}

function bindUdp(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: "udp4", reusePort: true });
    socket.once("error", (error) => {
      closeSocket(socket);
      reject(error);
    });
    socket.bind(port, HOST, () => resolve(socket));
  });
}

async function sharesTcp(): Promise<boolean> {
  const open: net.Server[] = [];
  try {
    open.push(await listenTcp(0));
    open.push(await listenTcp((open[0].address() as net.AddressInfo).port));
    return true;
  } catch {
    return false;
  } finally {
    await Promise.all(open.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

async function sharesUdp(): Promise<boolean> {
  const open: dgram.Socket[] = [];
  try {
    open.push(await bindUdp(0));
    open.push(await bindUdp(open[0].address().port));
    return true;
  } catch {
    return false;
  } finally {
    await Promise.all(open.map((socket) => new Promise<void>((resolve) => closeSocket(socket, resolve))));
  }
}
