/**
 * One TCP listener's data path: accept -> pick -> dial (with retries) ->
 * relay -> account. Limits and filters slot in before the pick.
 *
 * @module
 */
import { hashKey } from "../balance/hash-key.ts";
import type { ListenerConfig } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { formatAddress, type SocketAddress } from "../net/address.ts";
import { ConnectError, type ConnectFailure, type Runtime, type TcpConnection, type TcpListener } from "../runtime/types.ts";
import type { CloseReason, Connection, ConnectionTable } from "../stats/connections.ts";
import type { ListenerStats } from "../stats/entities.ts";
import type { Backend, Pool } from "../upstream/pool.ts";

/** What a TCP listener needs; injected so tests can swap any part. */
export interface TcpProxyDeps {
  readonly runtime: Pick<Runtime, "listenTcp" | "connectTcp" | "relayTcp" | "clock">;
  readonly log: Logger;
  readonly table: ConnectionTable;
  readonly stats: ListenerStats;
  readonly pool: Pool;
}

/** A listener and the pool it forwards to. */
export class TcpProxy {
  private listener: TcpListener | undefined;

  constructor(readonly config: ListenerConfig, private readonly deps: TcpProxyDeps) {}

  /** The bound address once started. */
  get address(): SocketAddress | undefined {
    return this.listener?.address;
  }

  /** Starts listening; rejects with `Cannot listen on ...` when the address cannot be bound. */
  async start(options: { reusePort?: boolean } = {}): Promise<SocketAddress> {
    const { listen } = this.config;
    this.listener = await this.deps.runtime.listenTcp({ ...listen, reusePort: options.reusePort }, this.onConnection);
    return this.listener.address;
  }

  /** Stops accepting; live connections carry on. */
  async stopAccepting(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
  }

  private onConnection = (client: TcpConnection): void => {
    void this.serve(client);
  };

  private async serve(client: TcpConnection): Promise<void> {
    const { runtime, table, stats, log } = this.deps;
    const clock = runtime.clock;
    const conn = table.open(stats, client.remote, this.config.idleTimeoutMs, clock.now(), clock.wallNow());
    if (log.enabled("debug")) log.debug("conn.open", { id: conn.id, listener: stats.name, client: formatAddress(client.remote) });

    const upstream = await this.dial(conn);
    if (conn.abortReason) {
      client.abort();
      upstream?.abort();
      return this.finish(conn, conn.abortReason, undefined);
    }
    if (!upstream) {
      client.abort();
      stats.rejected.no_backend++;
      return this.finish(conn, "no_backend", "no backend could be reached");
    }
    conn.relay = runtime.relayTcp(client, upstream, conn);
    const result = await conn.relay.done;
    this.finish(conn, result.outcome === "aborted" ? conn.abortReason ?? "shutdown" : result.outcome, result.error);
  }

  /** Tries up to 1 + retries backends; returns the upstream connection or undefined. */
  private async dial(conn: Connection): Promise<TcpConnection | undefined> {
    const { runtime, table, pool, log } = this.deps;
    const key = this.config.balance === "hash" ? hashKey(conn.client.host) : 0;
    let tried: Backend[] | undefined;
    for (let attempt = 0; attempt <= this.config.retries; attempt++) {
      // The first pick happens in the same turn the connection was opened, so its start time is now.
      const backend = pool.pick(key, tried, attempt === 0 ? conn.startedAt : runtime.clock.now());
      if (!backend) return undefined;
      table.attach(conn, backend.stats);
      try {
        const upstream = await runtime.connectTcp(backend.dialOptions);
        backend.stats.connections++;
        pool.reportSuccess(backend);
        return upstream;
      } catch (error) {
        table.detach(conn);
        const reason: ConnectFailure = error instanceof ConnectError ? error.reason : "error";
        backend.stats.connectErrors[reason]++;
        const ejected = pool.reportFailure(backend, runtime.clock.now());
        log.warn("upstream.connect_failed", {
          id: conn.id,
          listener: this.config.name,
          backend: backend.name,
          reason,
          error: (error as Error).message,
          ejected: ejected || undefined,
        });
        (tried ??= []).push(backend);
        if (conn.abortReason) return undefined;
      }
    }
    return undefined;
  }

  private finish(conn: Connection, reason: CloseReason, error: string | undefined): void {
    const { table, log, runtime } = this.deps;
    const now = runtime.clock.now();
    table.close(conn, reason, error, now);
    const level = reason === "no_backend" ? "warn" : "info";
    if (!log.enabled(level)) return;
    log[level]("conn.close", {
      id: conn.id,
      listener: conn.listener.name,
      client: formatAddress(conn.client),
      backend: conn.backend?.name,
      bytes_in: conn.up,
      bytes_out: conn.down,
      duration_ms: Math.round(now - conn.startedAt),
      reason,
      error,
    });
  }
}
