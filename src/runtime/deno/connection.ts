/**
 * A `Deno.TcpConn` behind the {@linkcode TcpConnection} contract.
 *
 * @module
 */
import { socketAddress } from "../_address.ts";
import type { SocketAddress, TcpConnection } from "../types.ts";

/** A Deno TCP connection; the relay reads and writes `conn` directly. */
export class DenoConnection implements TcpConnection {
  readonly conn: Deno.TcpConn;
  readonly remote: SocketAddress;
  readonly local: SocketAddress;
  private closed = false;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    const remote = conn.remoteAddr as Deno.NetAddr;
    const local = conn.localAddr as Deno.NetAddr;
    this.remote = socketAddress(remote.hostname, remote.port);
    this.local = socketAddress(local.hostname, local.port);
    try {
      conn.setNoDelay(true);
    } catch {
      // A connection already reset cannot take options; the relay will see the error.
    }
  }

  abort(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }
}
