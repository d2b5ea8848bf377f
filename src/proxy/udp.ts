/**
 * One UDP listener's data path. A client address and port is a session: its
 * first datagram picks a backend and opens an upstream socket for it (its
 * datagrams queue, bounded, meanwhile); replies come back through that socket
 * and leave from the listener's own address. Datagrams are never merged,
 * split or reordered. Sessions end after `idle_timeout` without a datagram,
 * after `responses` replies per client datagram, or when their backend stops being usable (the
 * client's next datagram starts a new session elsewhere); `requests` starts a
 * new session after that many client datagrams, so a busy client is
 * re-balanced. Nothing grows without bound: sessions are capped by
 * `max_sessions`, queues per session and per listener.
 *
 * @module
 */
import { hashKey } from "../balance/hash-key.ts";
import type { ListenerConfig } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { SocketAddress } from "../net/address.ts";
import { shownAddress } from "../net/anonymize.ts";
import type { Clock, NetPort, UdpListener, UdpUpstream } from "../runtime/types.ts";
import type { DropReason, ListenerCounters } from "../stats/counters.ts";
import type { Backend } from "../upstream/backend.ts";
import type { Pool, PoolUpdate } from "../upstream/pool.ts";
import type { CloseReason, UdpSession } from "./session.ts";
import type { Sessions } from "./sessions.ts";

/** Datagrams (and bytes) one session may queue while its upstream socket opens. */
const QUEUE_PER_SESSION = 64;
const QUEUE_BYTES_PER_SESSION = 256 * 1024;
/** Bytes all of a listener's opening sessions may queue together. */
const QUEUE_BYTES_PER_LISTENER = 16 * 1024 * 1024;

/** What a UDP listener needs. */
export interface UdpProxyDeps {
  readonly net: Pick<NetPort, "listenUdp" | "connectUdp">;
  readonly clock: Clock;
  readonly log: Logger;
  readonly sessions: Sessions;
  /** Mask client addresses in logs (`anonymize_ips`). */
  readonly anonymize?: boolean;
}

/**
 * How long a session has seen no datagram either way, judged by its
 * counts between sweeps (as the TCP sweep does), so no datagram reads a clock.
 */
function idleFor(flow: UdpSession, now: number): number {
  const seen = flow.requests + flow.responses;
  if (seen !== flow.activitySeen) {
    flow.activitySeen = seen;
    flow.idleSince = now;
  }
  return now - flow.idleSince;
}

/** A UDP listener and the pool it forwards to. */
export class UdpProxy {
  config: ListenerConfig;
  readonly counters: ListenerCounters;
  readonly pool: Pool;
  private readonly deps: UdpProxyDeps;
  private socket: UdpListener | undefined;
  private readonly flows = new Map<string, UdpSession>();
  /** Sessions past `requests`: they take no new datagrams but still pass replies until idle or `responses`. */
  private readonly retired = new Set<UdpSession>();
  private queuedBytes = 0;
  /** While draining: datagrams of clients without a session are dropped. */
  private accepting = true;

  constructor(config: ListenerConfig, counters: ListenerCounters, pool: Pool, deps: UdpProxyDeps) {
    this.config = config;
    this.counters = counters;
    this.pool = pool;
    this.deps = deps;
  }

  /** The bound address once started. */
  get address(): SocketAddress | undefined {
    return this.socket?.address;
  }

  /** Live sessions of this listener. */
  get size(): number {
    return this.flows.size + this.retired.size;
  }

  /** Binds the listener; rejects with `Cannot listen on ...`. */
  async start(options: { reusePort?: boolean } = {}): Promise<SocketAddress> {
    this.socket = await this.deps.net.listenUdp(
      { ...this.config.listen, reusePort: options.reusePort },
      this.onDatagram,
    );
    return this.socket.address;
  }

  /**
   * Stops taking new clients. The socket stays open, since replies leave
   * through it, until {@linkcode close} after the drain. With `keepServing`
   * (shutdown) it still takes new clients until then: on a shared port
   * (`--takeover`) the kernel keeps sending part of them to this socket, and
   * nobody else could answer them.
   */
  stopAccepting(options: { keepServing?: boolean } = {}): Promise<void> {
    if (!options.keepServing) this.accepting = false;
    if (this.size === 0) return this.close();
    return Promise.resolve();
  }

  /** Ends every session and releases the socket. */
  async close(reason: CloseReason = "shutdown"): Promise<void> {
    for (const flow of [...this.flows.values(), ...this.retired]) this.end(flow, reason);
    const socket = this.socket;
    this.socket = undefined;
    await socket?.close();
  }

  /** New settings for later sessions; live ones keep their backend. */
  update(config: ListenerConfig): PoolUpdate {
    this.config = config;
    this.counters.name = config.name;
    return this.pool.update(config);
  }

  /** Ends sessions idle for `idle_timeout`; the listeners' sweep calls it. Closes the socket once drained. */
  sweep(now: number): void {
    const idle = this.config.idleTimeoutMs;
    if (idle > 0) {
      for (const flow of this.flows.values()) if (idleFor(flow, now) >= idle) this.end(flow, "idle_timeout");
      for (const flow of this.retired) if (idleFor(flow, now) >= idle) this.end(flow, "requests");
    }
    if (!this.accepting && this.size === 0 && this.socket) void this.close();
  }

  private onDatagram = (data: Uint8Array, from: SocketAddress): void => {
    const key = `${from.host}|${from.port}`;
    let flow = this.flows.get(key);
    if (flow !== undefined && !this.keep(flow)) flow = undefined;
    if (flow === undefined) {
      if (!this.accepting) return;
      flow = this.open(key, from);
      if (flow === undefined) return;
    }
    const upstream = flow.upstream;
    // Only datagrams that go out (or wait to) count toward `requests` and the replies `responses` expects.
    if (upstream === undefined ? this.enqueue(flow, data) : this.forward(flow, upstream, data)) flow.requests++;
  };

  /** Whether a session takes this datagram, or ends so that the datagram starts a new one. */
  private keep(flow: UdpSession): boolean {
    const { requests } = this.config;
    if (requests > 0 && flow.requests >= requests) {
      // Its datagrams may still be queued and replies still due: retire it rather than end it.
      this.flows.delete(flow.flowKey);
      this.retired.add(flow);
      return false;
    }
    // A backend that is down, disabled or draining loses its sessions; an ejected one only when the pool
    // has a usable one instead (in panic mode every pick is an ejected backend: re-picking would churn).
    const state = flow.backend?.state;
    if (state !== undefined && !state.usable && (!state.fallback || this.pool.hasUsable())) {
      this.end(flow, "backend_down");
      return false;
    }
    return true;
  }

  private open(key: string, client: SocketAddress): UdpSession | undefined {
    const { clock, sessions } = this.deps;
    // Retired sessions hold sockets too.
    if (this.size >= this.config.maxSessions) return this.drop("max_sessions");
    const now = clock.now();
    const backend = this.pool.pick(this.pool.needsKey ? hashKey(client.host) : 0, undefined, now);
    if (backend === undefined) return this.drop("no_backend");
    const flow = sessions.openUdp(this.counters, client, this.config, now, clock.wallNow());
    flow.flowKey = key;
    flow.stop = (reason) => this.end(flow, reason);
    sessions.attach(flow, backend);
    backend.counters.connections++;
    this.flows.set(key, flow);
    void this.connect(flow, backend);
    return flow;
  }

  private async connect(flow: UdpSession, backend: Backend): Promise<void> {
    const onError = (failure: string, error: string) => {
      // ICMP port unreachable: the backend refused; the breaker counts it like a refused connect.
      if (failure === "refused") this.pool.reportFailure(backend, this.deps.clock.now());
      flow.error = error;
    };
    let upstream: UdpUpstream;
    try {
      upstream = await this.deps.net.connectUdp(
        { ...backend.address, onError },
        (data) => this.onReply(flow, data),
      );
    } catch (error) {
      flow.error = (error as Error).message;
      // What waited for this socket can never go out.
      if (flow.queue) this.counters.dropped.send_error += flow.queue.length;
      this.end(flow, "upstream_error");
      return;
    }
    if (flow.closeReason !== undefined) return upstream.close();
    flow.upstream = upstream;
    const queue = flow.queue;
    flow.queue = undefined;
    this.queuedBytes -= flow.queuedBytes;
    flow.queuedBytes = 0;
    if (queue) { for (const data of queue) this.forward(flow, upstream, data); }
  }

  private enqueue(flow: UdpSession, data: Uint8Array): boolean {
    const queue = (flow.queue ??= []);
    if (
      queue.length >= QUEUE_PER_SESSION || flow.queuedBytes + data.length > QUEUE_BYTES_PER_SESSION ||
      this.queuedBytes + data.length > QUEUE_BYTES_PER_LISTENER
    ) {
      this.drop("queue_full");
      return false;
    }
    queue.push(data);
    flow.queuedBytes += data.length;
    this.queuedBytes += data.length;
    return true;
  }

  private forward(flow: UdpSession, upstream: UdpUpstream, data: Uint8Array): boolean {
    if (!upstream.send(data)) {
      this.drop("send_error");
      return false;
    }
    flow.toUpstream += data.length;
    this.counters.datagramsToUpstream++;
    flow.backend!.counters.datagramsToUpstream++;
    return true;
  }

  private onReply(flow: UdpSession, data: Uint8Array): void {
    if (flow.closeReason !== undefined || this.socket === undefined) return;
    if (!this.socket.send(data, flow.client)) return void this.drop("send_error");
    flow.toClient += data.length;
    this.counters.datagramsToClient++;
    flow.backend!.counters.datagramsToClient++;
    // As nginx's proxy_responses: `responses` replies per client datagram, so queries in flight on one
    // client port all get their answers before the session ends.
    const { responses } = this.config;
    flow.responses++;
    if (responses > 0 && flow.responses >= responses * flow.requests) this.end(flow, "responses");
  }

  private end(flow: UdpSession, reason: CloseReason): void {
    if (flow.closeReason !== undefined) return;
    if (this.flows.get(flow.flowKey) === flow) this.flows.delete(flow.flowKey);
    this.retired.delete(flow);
    flow.upstream?.close();
    flow.upstream = undefined;
    this.queuedBytes -= flow.queuedBytes;
    flow.queue = undefined;
    flow.queuedBytes = 0;
    const now = this.deps.clock.now();
    this.deps.sessions.close(flow, reason, flow.error, now);
    const { log } = this.deps;
    if (log.enabled("debug")) {
      log.debug("udp.session.close", {
        id: flow.id,
        listener: this.config.name,
        client: shownAddress(flow.client, this.deps.anonymize === true),
        backend: flow.backend?.name,
        bytes_in: flow.toUpstream,
        bytes_out: flow.toClient,
        duration_ms: Math.round(now - flow.startedAt),
        reason,
      });
    }
  }

  private drop(reason: DropReason): undefined {
    this.counters.dropped[reason]++;
    return undefined;
  }
}
