/**
 * The floor for Node: a minimal forwarder using `pipe()` both ways.
 * Usage: node bench/pipes/node-pipe.ts LISTEN_PORT TARGET_PORT
 */
import * as net from "node:net";
import process from "node:process";

const [listenPort, targetPort] = process.argv.slice(2).map(Number);
net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
  const upstream = net.connect({ host: "127.0.0.1", port: targetPort, allowHalfOpen: true, noDelay: true });
  client.pipe(upstream);
  upstream.pipe(client);
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
}).listen(listenPort, "127.0.0.1");
