/**
 * The socket handlers Bun calls, one object shared by every socket of a role,
 * with per-socket state in `socket.data`. Before a relay takes a socket over,
 * they keep what it delivers (bounded) for the relay to replay.
 *
 * @module
 */
import type { BunConnection, BunSocket, BunSocketHandlers, Early } from "./connection.ts";

/**
 * Bytes a socket may deliver before its relay starts (while the upstream is
 * dialled). Sockets are not paused up front: pause() and resume() cost four
 * poll updates and an extra wake-up per connection, and most clients send one
 * request and wait.
 */
const EARLY_LIMIT = 64 * 1024;

function earlyOf(conn: BunConnection): Early {
  return (conn.early ??= {});
}

function keepEarly(conn: BunConnection, chunk: Uint8Array): void {
  const early = earlyOf(conn);
  (early.chunks ??= []).push(chunk);
  early.bytes = (early.bytes ?? 0) + chunk.length;
  if (early.bytes >= EARLY_LIMIT && !early.paused) {
    early.paused = true;
    conn.socket.pause();
  }
}

/**
 * Socket handlers shared by every socket of one role; `onOpen` sees each new socket.
 *
 * @example
 * ```ts
 * const upstreamHandlers = handlers();
 * await bun().connect({ hostname: "127.0.0.1", port: 80, allowHalfOpen: true, socket: upstreamHandlers });
 * ```
 */
export function handlers(onOpen?: (socket: BunSocket) => void): BunSocketHandlers {
  return {
    open: onOpen,
    data(socket, chunk) {
      const conn = socket.data;
      if (conn.relay) conn.relay.onData(conn, chunk);
      else keepEarly(conn, chunk);
    },
    drain(socket) {
      socket.data?.relay?.onDrain(socket.data);
    },
    end(socket) {
      const conn = socket.data;
      if (conn.relay) conn.relay.onFin(conn);
      else earlyOf(conn).fin = true;
    },
    close(socket, error) {
      const conn = socket.data;
      // A socket we closed ourselves (abort) needs no further handling.
      if (!conn || conn.closed) return;
      conn.closed = true;
      if (conn.relay) conn.relay.onClose(conn, error);
      else if (error) earlyOf(conn).error ??= error;
    },
    error(socket, error) {
      const conn = socket.data;
      if (!conn) return;
      if (conn.relay) conn.relay.onError(conn, error);
      else earlyOf(conn).error ??= error;
    },
  };
}
