/**
 * The floor for Deno: a minimal forwarder of two read/write loops per connection.
 * Usage: deno run -A bench/pipes/deno-pipe.ts LISTEN_PORT TARGET_PORT
 */
const [listenPort, targetPort] = Deno.args.map(Number);

async function pump(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      let written = 0;
      while (written < n) written += await to.write(buffer.subarray(written, n));
    }
    await to.closeWrite();
  } catch {
    // Either side failed; the other pump ends when the connections close below.
  }
}

for await (const client of Deno.listen({ hostname: "127.0.0.1", port: listenPort })) {
  (async () => {
    try {
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      await Promise.all([pump(client, upstream), pump(upstream, client)]);
      upstream.close();
    } catch {
      // Connect failed.
    }
    try {
      client.close();
    } catch {
      // Already closed.
    }
  })();
}
