/** In-memory fakes for core tests: seeded randomness, balancer members, a manual clock, a fake network and logger. */
import type { Member } from "../../src/balance/types.ts";
import type {
  Clock,
  ConnectTcpOptions,
  ConnectUdpOptions,
  ListenUdpOptions,
  NetPort,
  Relay,
  RelayResult,
  RelayTally,
  SocketAddress,
  TcpConnection,
  UdpListener,
  UdpUpstream,
} from "../../src/runtime/types.ts";
import { ConnectError, type ConnectFailure } from "../../src/runtime/types.ts";
import { Logger } from "../../src/log.ts";

/** mulberry32: a small seeded PRNG so random strategies are repeatable in tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A member whose load and eligibility a test can set directly. */
export type FakeMember = { -readonly [K in keyof Member]: Member[K] };

/** Members named a, b, c... with the given weights, all eligible and idle. */
export function fakeMembers(...weights: number[]): FakeMember[] {
  return weights.map((weight, i) => ({
    key: String.fromCharCode(97 + i),
    weight,
    active: 0,
    eligible: true,
    fallback: true,
    latencyMs: 0,
  }));
}

/** Counts picks per member key. */
export function tally(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const k of keys) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
}

/** A clock that only moves when told; timers fire in order during `advance()`. */
export class ManualClock implements Clock {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void; every?: number }>();

  now(): number {
    return this.time;
  }
  wallNow(): number {
    return 1_800_000_000_000 + this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  setInterval(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn, every: Math.max(1, ms) });
    return id;
  }
  clearInterval(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Number of timers still scheduled. */
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      let dueId = -1;
      let due: { at: number; fn: () => void; every?: number } | undefined;
      for (const [id, t] of this.timers) if (t.at <= target && (!due || t.at < due.at)) [dueId, due] = [id, t];
      if (!due) break;
      this.time = due.at;
      if (due.every) due.at += due.every;
      else this.timers.delete(dueId);
      due.fn();
    }
    this.time = target;
  }
}

/** Lets pending promise callbacks run (the fakes settle through microtasks). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** A connection that exists only in memory. */
export class FakeConnection implements TcpConnection {
  aborted = false;
  readonly remote: { host: string; port: number };
  readonly local = { host: "127.0.0.1", port: 8080 };
  constructor(remote = { host: "192.0.2.10", port: 40000 }) {
    this.remote = remote;
  }
  abort(): void {
    this.aborted = true;
  }
}

/** A relay whose ending the test decides. */
export class FakeRelay implements Relay {
  readonly done: Promise<RelayResult>;
  finish!: (result: RelayResult) => void;
  readonly client: FakeConnection;
  readonly upstream: FakeConnection;
  readonly tally: RelayTally;
  constructor(client: FakeConnection, upstream: FakeConnection, tally: RelayTally) {
    this.client = client;
    this.upstream = upstream;
    this.tally = tally;
    this.done = new Promise((resolve) => (this.finish = resolve));
  }
  /** Set by a test when a side's FIN was passed on. */
  halfClosed = false;
  /** How the relay was ended by us: `abort` (resets) or `close` (FINs). */
  endedBy: "abort" | "close" | undefined;
  abort(): void {
    this.endedBy ??= "abort";
    this.client.aborted = this.upstream.aborted = true;
    this.finish({ outcome: "aborted" });
  }
  close(): void {
    this.endedBy ??= "close";
    this.abort();
  }
}

/**
 * The network ports of a runtime, in memory. Connects to ports listed in
 * `failures` fail with that reason; others succeed. Accepted connections are
 * injected with `accept()`.
 */
export function fakeNetwork() {
  const failures = new Map<number, ConnectFailure>();
  const dials: ConnectTcpOptions[] = [];
  const relays: FakeRelay[] = [];
  /** Ports that refuse to bind, as an address in use would. */
  const busy = new Set<number>();
  let onConnection: ((conn: FakeConnection) => void) | undefined;
  const handlers = new Map<number, (conn: FakeConnection) => void>();
  let nextPort = 18080;
  const udp = fakeUdp();
  const net: NetPort<FakeConnection> = {
    supportsReusePort: false,
    supportsUdpReusePort: false,
    listenUdp: udp.listenUdp,
    connectUdp: udp.connectUdp,
    probeTcp: () => Promise.reject(new Error("probeTcp is not faked; health checks take an injected check")),
    probeUdp: () => Promise.reject(new Error("probeUdp is not faked; health checks take an injected check")),
    listenTcp(options, handler) {
      if (busy.has(options.port)) {
        return Promise.reject(new Error(`Cannot listen on ${options.host}:${options.port}: address in use`));
      }
      onConnection = handler;
      const port = options.port || nextPort++;
      handlers.set(port, handler);
      return Promise.resolve({
        address: { host: options.host, port },
        close: () => {
          handlers.delete(port);
          return Promise.resolve();
        },
      });
    },
    connectTcp(options) {
      dials.push(options);
      const reason = failures.get(options.port);
      return reason
        ? Promise.reject(new ConnectError(reason, `Cannot connect to port ${options.port}: ${reason}`))
        : Promise.resolve(new FakeConnection({ host: options.host, port: options.port }));
    },
    relayTcp(client, upstream, tally) {
      const relay = new FakeRelay(client, upstream, tally);
      relays.push(relay);
      return relay;
    },
  };
  return {
    net,
    failures,
    dials,
    relays,
    busy,
    /** Hands the last listener (or the one bound to `port`) a new client connection. */
    accept(remote?: { host: string; port: number }, port?: number): FakeConnection {
      const conn = new FakeConnection(remote);
      const handler = port === undefined ? onConnection : handlers.get(port);
      if (!handler) throw new Error(`nothing listens on fake port ${port}`);
      handler(conn);
      return conn;
    },
    /** Ports listened on now. */
    listening: () => [...handlers.keys()],
    udp,
  };
}

/** A datagram socket opened by `connectUdp` on the fake network. */
export interface FakeUpstream {
  readonly peer: { host: string; port: number };
  readonly sent: Uint8Array[];
  closed: boolean;
  /** Delivers a reply from the peer. */
  reply(data: string | Uint8Array): void;
  /** Reports an error as the runtime would (ICMP refused). */
  fail(failure: ConnectFailure): void;
}

/** UDP in memory: listeners receive what a test injects; upstream sockets open when the test says so. */
export function fakeUdp() {
  const listeners = new Map<
    number,
    { onDatagram: (d: Uint8Array, from: SocketAddress) => void; sent: { data: string; to: string }[] }
  >();
  const upstreams: FakeUpstream[] = [];
  /** Upstream sockets still opening: `openAll()` finishes them. */
  let pending: (() => void)[] = [];
  let holdOpen = false;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return {
    upstreams,
    /** Keep connectUdp pending until openAll(), to see queueing. */
    hold(value: boolean) {
      holdOpen = value;
    },
    openAll() {
      const run = pending;
      pending = [];
      for (const open of run) open();
    },
    /** What a listener sent back, as text with the client address. */
    sent: (port: number) => listeners.get(port)?.sent ?? [],
    /** A client datagram arriving at listener `port`. */
    receive(port: number, from: SocketAddress, data: string | Uint8Array) {
      listeners.get(port)!.onDatagram(typeof data === "string" ? encoder.encode(data) : data, from);
    },
    listenUdp(
      options: ListenUdpOptions,
      onDatagram: (d: Uint8Array, from: SocketAddress) => void,
    ): Promise<UdpListener> {
      const port = options.port || 15300 + listeners.size;
      const sent: { data: string; to: string }[] = [];
      listeners.set(port, { onDatagram, sent });
      return Promise.resolve({
        address: { host: options.host, port },
        send: (data, to) => (sent.push({ data: decoder.decode(data), to: `${to.host}:${to.port}` }), true),
        close: () => (listeners.delete(port), Promise.resolve()),
      });
    },
    connectUdp(options: ConnectUdpOptions, onDatagram: (d: Uint8Array) => void): Promise<UdpUpstream> {
      const upstream: FakeUpstream = {
        peer: { host: options.host, port: options.port },
        sent: [],
        closed: false,
        reply: (data) => {
          if (!upstream.closed) onDatagram(typeof data === "string" ? encoder.encode(data) : data);
        },
        fail: (failure) => options.onError?.(failure, `fake ${failure}`),
      };
      upstreams.push(upstream);
      const socket: UdpUpstream = {
        local: { host: "127.0.0.1", port: 40000 + upstreams.length },
        send: (data) => (upstream.closed ? false : (upstream.sent.push(data), true)),
        close: () => void (upstream.closed = true),
      };
      if (!holdOpen) return Promise.resolve(socket);
      return new Promise((resolve) => pending.push(() => resolve(socket)));
    },
  };
}

/** A logger that keeps lines in memory. */
export function memoryLogger(clock: ManualClock, level: "debug" | "info" = "debug") {
  const lines: string[] = [];
  const log = new Logger({ level, format: "json" }, {
    write: (text) => lines.push(...text.trimEnd().split("\n")),
    wallNow: () => clock.wallNow(),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (h) => clock.clearTimeout(h),
  });
  return { log, lines, events: () => (log.flush(), lines.map((l) => JSON.parse(l) as Record<string, unknown>)) };
}
