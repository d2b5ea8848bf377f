/**
 * The Bun adapter: `Bun.listen`/`Bun.connect`, `Bun.serve`, and the relay in
 * `bun-relay.ts`.
 *
 * @module
 */
import { formatAddress } from "../net/address.ts";
import { BunConnection, BunRelay, type BunSocket, handlers } from "./bun-relay.ts";
import { dialWithTimeout, listenError, projectModule, spawnWebWorker, webClock, webWorkerChannel } from "./common.ts";
import {
  type ConnectTcpOptions,
  type FetchHandler,
  type HttpServer,
  type ListenTcpOptions,
  type Runtime,
  type SignalName,
  type TcpConnection,
  type TcpListener,
} from "./types.ts";

interface BunApi {
  version: string;
  isMainThread: boolean;
  listen(options: Record<string, unknown>): { port: number; hostname: string; stop(closeActive?: boolean): void };
  connect(options: Record<string, unknown>): Promise<BunSocket>;
  serve(options: Record<string, unknown>): { port: number; hostname: string; stop(closeActive?: boolean): Promise<void> };
}

interface NodeishProcess {
  argv: string[];
  env: Record<string, string | undefined>;
  on(signal: string, handler: () => void): void;
  off(signal: string, handler: () => void): void;
  stdout: { write(text: string): boolean };
  stderr: { write(text: string): boolean };
  exit(code: number): never;
}

function bun(): BunApi {
  return (globalThis as unknown as { Bun: BunApi }).Bun;
}

function listenTcp(options: ListenTcpOptions, onConnection: (conn: TcpConnection) => void): Promise<TcpListener> {
  const socket = handlers((s) => onConnection(new BunConnection(s, true)));
  let server: ReturnType<BunApi["listen"]>;
  try {
    server = bun().listen({ hostname: options.host, port: options.port, allowHalfOpen: true, reusePort: options.reusePort ?? false, socket });
  } catch (error) {
    return Promise.reject(listenError(formatAddress(options), error));
  }
  let open = true;
  return Promise.resolve({
    address: { host: options.host, port: server.port },
    close() {
      if (open) {
        open = false;
        server.stop(false);
      }
      return Promise.resolve();
    },
  });
}

const upstreamHandlers = handlers();

const wrapUpstream = (socket: BunSocket) => new BunConnection(socket, false);
const discardUpstream = (socket: BunSocket) => socket.terminate();

function connectTcp(options: ConnectTcpOptions): Promise<TcpConnection> {
  const connecting = bun().connect({ hostname: options.host, port: options.port, allowHalfOpen: true, socket: upstreamHandlers });
  return dialWithTimeout(options, connecting, wrapUpstream, discardUpstream);
}

function serveHttp(options: { host: string; port: number }, handler: FetchHandler): Promise<HttpServer> {
  let server: ReturnType<BunApi["serve"]>;
  try {
    server = bun().serve({ hostname: options.host, port: options.port, fetch: handler });
  } catch (error) {
    return Promise.reject(listenError(formatAddress(options), error));
  }
  return Promise.resolve({
    address: { host: options.host, port: server.port },
    close: () => server.stop(true),
  });
}

/** Builds the Bun {@linkcode Runtime}; call only under Bun. */
export function createBunRuntime(): Runtime {
  const proc = (globalThis as unknown as { process: NodeishProcess }).process;
  return {
    name: "bun",
    version: bun().version,
    supportsReusePort: true,
    clock: webClock,
    listenTcp,
    connectTcp,
    relayTcp: (client, upstream, tally) => new BunRelay(client as BunConnection, upstream as BunConnection, tally),
    serveHttp,
    // In a `bun build --compile` binary, modules live under /$bunfs/root/ by their path from the
    // project root (the worker is an extra entrypoint of the build), so a plain relative path finds it.
    spawnWorker: (module) => spawnWebWorker(import.meta.url.includes("/$bunfs/") ? `./${module}` : projectModule(module)),
    workerChannel: () => (bun().isMainThread ? undefined : webWorkerChannel()),
    args: proc.argv.slice(2),
    env: (name) => proc.env[name],
    readTextFile: (path) => (globalThis as unknown as { Bun: { file(p: string): { text(): Promise<string> } } }).Bun.file(path).text(),
    onSignal(signal: SignalName, handler: () => void) {
      proc.on(signal, handler);
      return () => proc.off(signal, handler);
    },
    writeOut: (text) => void proc.stdout.write(text),
    writeErr: (text) => void proc.stderr.write(text),
    exit: (code) => proc.exit(code),
  };
}
