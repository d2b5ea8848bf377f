/**
 * One TCP listener's data path, stage by stage:
 * admit -> route -> pick -> dial (with retries) -> relay -> account.
 * One {@linkcode Session} is the context every stage reads and fills in.
 *
 * @module
 */
import { admission, type AdmitRule } from "../admit/admit.ts";
import { hashKey } from "../balance/hash-key.ts";
import type { ListenerConfig } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { SocketAddress } from "../net/address.ts";
import { shownAddress } from "../net/anonymize.ts";
import { type Router, singlePool } from "../route/route.ts";
import {
  type Clock,
  ConnectError,
  type ConnectFailure,
  type NetPort,
  type TcpConnection,
  type TcpListener,
} from "../runtime/types.ts";
import type { ListenerCounters, RejectReason, TotalCounters } from "../stats/counters.ts";
import type { Backend } from "../upstream/backend.ts";
import type { Pool, PoolUpdate } from "../upstream/pool.ts";
import type { Exhaustion } from "./exhaustion.ts";
import type { CloseReason, Session } from "./session.ts";
import type { Sessions } from "./sessions.ts";

/** A dial whose backend reset the connection as it was accepted. */
const RESET = Symbol("reset");

/** What a TCP listener needs; injected so tests can swap any part. */
export interface TcpProxyDeps {
  readonly net: Pick<NetPort, "listenTcp" | "connectTcp" | "relayTcp">;
  readonly clock: Clock;
  readonly log: Logger;
  readonly sessions: Sessions;
  readonly total: TotalCounters;
  /** The admission stage; absent when no rule applies. */
  readonly admit?: AdmitRule;
  /** The routing stage; the listener's own pool when absent. */
  readonly route?: Router;
  /** Where failures of ours (out of descriptors) are reported. */
  readonly exhaustion?: Exhaustion;
  /** Mask client addresses in logs (`anonymize_ips`). */
  readonly anonymize?: boolean;
}

/** A listener, its settings (replaceable by a reload) and the pool it forwards to. */
export class TcpProxy {
  config: ListenerConfig;
  readonly counters: ListenerCounters;
  readonly pool: Pool;
  private readonly deps: TcpProxyDeps;
  private readonly route: Router;
  /** The admission stage: this listener's cap, then the rules it was given. */
  private readonly admit: AdmitRule;
  private listener: TcpListener | undefined;

  constructor(config: ListenerConfig, counters: ListenerCounters, pool: Pool, deps: TcpProxyDeps) {
    this.config = config;
    this.counters = counters;
    this.pool = pool;
    this.deps = deps;
    this.route = deps.route ?? singlePool(pool);
    const cap: AdmitRule = () => {
      const max = this.config.maxConnections;
      return max > 0 && this.counters.active >= max ? "max_connections" : undefined;
    };
    this.admit = admission(deps.admit ? [cap, deps.admit] : [cap])!;
  }

  /** The bound address once started. */
  get address(): SocketAddress | undefined {
    return this.listener?.address;
  }

  /** Starts listening; rejects with `Cannot listen on ...` when the address cannot be bound. */
  async start(options: { reusePort?: boolean } = {}): Promise<SocketAddress> {
    const { listen } = this.config;
    const onError = (error: string) => this.deps.exhaustion?.report("accept", error, this.deps.clock.now());
    this.listener = await this.deps.net.listenTcp(
      { ...listen, reusePort: options.reusePort, onError },
      this.onConnection,
    );
    return this.listener.address;
  }

  /**
   * Stops accepting; live sessions carry on. The listening socket closes whether or not `keepServing` (shutdown) is
   * asked: a successor sharing the port takes every new connection, unlike a UDP socket that replies still need.
   */
  async stopAccepting(_options: { keepServing?: boolean } = {}): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
  }

  /** New settings for the same listener key: later sessions use them; the socket and live sessions stay. */
  update(config: ListenerConfig): PoolUpdate {
    this.config = config;
    this.counters.name = config.name;
    return this.pool.update(config);
  }

  private onConnection = (client: TcpConnection): void => {
    void this.serve(client);
  };

  private async serve(client: TcpConnection): Promise<void> {
    const { clock, sessions, log } = this.deps;
    // admit
    const refusal = this.admit(client.remote, this.config.key);
    if (refusal !== undefined) return this.refuse(client, refusal);
    const session = sessions.open(this.counters, client.remote, this.config, clock.now(), clock.wallNow());
    if (log.enabled("debug")) {
      log.debug("conn.open", { id: session.id, listener: this.config.name, client: this.shown(client.remote) });
    }
    // route, pick, dial
    const pool = this.route(session);
    const upstream = pool ? await this.dial(session, pool) : undefined;
    if (session.abortReason) {
      client.abort();
      if (upstream !== RESET) upstream?.abort();
      return this.account(session, session.abortReason, undefined);
    }
    if (upstream === RESET) {
      client.abort();
      return this.account(session, "upstream_error", "the backend reset the connection as it accepted it");
    }
    if (!upstream) {
      client.abort();
      if (session.localFailure) {
        this.countRefusal("local");
        return this.account(session, "local", "out of file descriptors or ports");
      }
      this.countRefusal("no_backend");
      return this.account(session, "no_backend", "no backend could be reached");
    }
    // relay
    session.relay = this.deps.net.relayTcp(client, upstream, session);
    const result = await session.relay.done;
    // account
    const reason = result.outcome === "aborted" ? session.abortReason ?? "shutdown" : result.outcome;
    this.account(session, reason, result.error);
  }

  /** Tries up to 1 + retries backends; returns the upstream connection or undefined. */
  private async dial(session: Session, pool: Pool): Promise<TcpConnection | typeof RESET | undefined> {
    const { clock, sessions, log, net } = this.deps;
    if (pool.needsKey) session.key = hashKey(session.client.host);
    let tried: Backend[] | undefined;
    for (let attempt = 0; attempt <= this.config.retries; attempt++) {
      // The first pick happens in the same turn the session was opened, so its start time is now.
      const started = attempt === 0 ? session.startedAt : clock.now();
      const backend = pool.pick(session.key, tried, started);
      if (!backend) return undefined;
      sessions.attach(session, backend);
      try {
        const upstream = await net.connectTcp(backend.dialOptions);
        const connectMs = clock.now() - started;
        const { counters } = backend;
        const { total } = this.deps;
        counters.connections++;
        counters.connected++;
        counters.connectMs += connectMs;
        backend.latency.observe(connectMs, started + connectMs);
        this.counters.connected++;
        this.counters.connectMs += connectMs;
        this.counters.connectTime.observe(connectMs / 1000);
        total.connected++;
        total.connectMs += connectMs;
        pool.reportSuccess(backend);
        return upstream;
      } catch (error) {
        let reason: ConnectFailure = error instanceof ConnectError ? error.reason : "error";
        // Bun reports a connect that failed for want of a descriptor as refused; during an episode of
        // our own exhaustion a refusal is taken as ours too, so no healthy backend is ejected for it.
        if (reason === "refused" && this.deps.exhaustion?.isActive(clock.now())) reason = "local";
        if (reason === "reset") {
          // The backend accepted and reset at once. Whether that shows as a failed connect or as an error
          // right after it is a race inside the runtime; it is counted the same either way: a connection
          // made, then ended by the backend (no ejection, no retry, as for any error after connecting).
          backend.counters.connections++;
          pool.reportSuccess(backend);
          return RESET;
        }
        sessions.detach(session);
        backend.counters.connectErrors[reason]++;
        // Our own failure (out of descriptors) says nothing about the backend, and another would fail alike.
        const local = reason === "local";
        if (local) {
          this.deps.exhaustion?.report("connect", (error as Error).message, clock.now());
          session.localFailure = true;
        }
        const now = clock.now();
        const ejected = !local && pool.reportFailure(backend, now);
        // A failed connect counts as slow as a timed-out one, so an adaptive strategy steers away.
        if (!local) backend.latency.observe(this.config.connectTimeoutMs, now);
        log[local ? "debug" : "warn"]("upstream.connect_failed", {
          id: session.id,
          listener: this.config.name,
          backend: backend.name,
          reason,
          error: (error as Error).message,
          ejected: ejected || undefined,
        });
        (tried ??= []).push(backend);
        if (session.abortReason || local) return undefined;
      }
    }
    return undefined;
  }

  private shown(address: SocketAddress): string {
    return shownAddress(address, this.deps.anonymize === true);
  }

  private countRefusal(reason: RejectReason): void {
    this.counters.rejected[reason]++;
    this.deps.total.refusedTotal++;
  }

  /** Refused at admission: never a session, never counted as accepted. */
  private refuse(client: TcpConnection, reason: RejectReason): void {
    client.abort();
    this.countRefusal(reason);
    const { log } = this.deps;
    if (log.enabled("info")) {
      log.info("conn.rejected", { listener: this.config.name, client: this.shown(client.remote), reason });
    }
  }

  private account(session: Session, reason: CloseReason, error: string | undefined): void {
    const { sessions, log, clock } = this.deps;
    const now = clock.now();
    sessions.close(session, reason, error, now);
    // Refusals of our own are in the exhaustion episode's one line; per connection they would flood the log.
    const level = reason === "no_backend" ? "warn" : reason === "local" ? "debug" : "info";
    if (!log.enabled(level)) return;
    log[level]("conn.close", {
      id: session.id,
      listener: this.config.name,
      client: this.shown(session.client),
      backend: session.backend?.name,
      bytes_in: session.toUpstream,
      bytes_out: session.toClient,
      duration_ms: Math.round(now - session.startedAt),
      reason,
      error,
    });
  }
}
