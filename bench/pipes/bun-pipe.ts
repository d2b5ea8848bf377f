/**
 * The floor for Bun: a minimal forwarder with socket handlers, honouring
 * write() short counts with pause()/resume() and drain. (Bun already sets
 * TCP_NODELAY on every socket, so it is not set again here.)
 * Usage: bun bench/pipes/bun-pipe.ts LISTEN_PORT TARGET_PORT
 */
// deno-lint-ignore-file no-explicit-any
const [listenPort, targetPort] = (globalThis as any).process.argv.slice(2).map(Number);
const Bun = (globalThis as any).Bun;

interface Side {
  socket: any;
  peer?: Side;
  pending?: Uint8Array;
  ended?: boolean;
}

function forward(from: Side, chunk: Uint8Array) {
  const to = from.peer!;
  if (to.pending) {
    const joined = new Uint8Array(to.pending.length + chunk.length);
    joined.set(to.pending);
    joined.set(chunk, to.pending.length);
    to.pending = joined;
    return;
  }
  const n = to.socket.write(chunk);
  if (n < chunk.length) {
    to.pending = chunk.subarray(Math.max(n, 0));
    from.socket.pause();
  }
}

function drain(to: Side) {
  if (!to.pending) return;
  const n = to.socket.write(to.pending);
  if (n < to.pending.length) {
    to.pending = to.pending.subarray(Math.max(n, 0));
    return;
  }
  to.pending = undefined;
  if (to.peer!.ended) to.socket.shutdown();
  else to.peer!.socket.resume();
}

const handlers = {
  data: (s: any, chunk: Uint8Array) => forward(s.data, chunk),
  drain: (s: any) => drain(s.data),
  end: (s: any) => {
    const side: Side = s.data;
    side.ended = true;
    if (!side.peer!.pending) side.peer!.socket.shutdown();
  },
  close: (s: any) => s.data?.peer?.socket.end(),
  error: () => {},
};

Bun.listen({
  hostname: "127.0.0.1",
  port: listenPort,
  allowHalfOpen: true,
  socket: {
    ...handlers,
    open(client: any) {
      client.pause();
      const clientSide: Side = { socket: client };
      client.data = clientSide;
      Bun.connect({
        hostname: "127.0.0.1",
        port: targetPort,
        allowHalfOpen: true,
        socket: {
          ...handlers,
          open(upstream: any) {
            const upstreamSide: Side = { socket: upstream, peer: clientSide };
            upstream.data = upstreamSide;
            clientSide.peer = upstreamSide;
            client.resume();
          },
        },
      }).catch(() => client.end());
    },
  },
});
