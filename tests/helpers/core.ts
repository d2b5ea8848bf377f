/** Builds core objects on the fake network the way src/compose.ts does, for tests on a manual clock. */
import { loadObject } from "../../src/config/load.ts";
import type { Config, ListenerConfig } from "../../src/config/schema.ts";
import type { AdmitRule } from "../../src/admit/admit.ts";
import type { Router } from "../../src/route/route.ts";
import { Listeners } from "../../src/proxy/listeners.ts";
import { Sessions } from "../../src/proxy/sessions.ts";
import { Collector } from "../../src/stats/collector.ts";
import { Pool } from "../../src/upstream/pool.ts";
import { StateBook } from "../../src/upstream/state.ts";
import { fakeNetwork, ManualClock, memoryLogger } from "./fakes.ts";

export const INFO = { version: "test", runtime: "fake", runtimeVersion: "0" };

/** A validated config; throws on issues so a typo in a test fails loudly. */
export function config(document: Record<string, unknown>): Config {
  const loaded = loadObject({ admin: { enabled: false }, ...document });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  return loaded.config;
}

/** A config with one listener "l" in front of backends on 127.0.0.1 at the given ports. */
export function configFor(ports: number[], listener: Record<string, unknown> = {}): Config {
  return config({
    listeners: [{
      name: "l",
      listen: "127.0.0.1:0",
      backends: ports.map((p) => ({ address: `127.0.0.1:${p}` })),
      ...listener,
    }],
  });
}

/** A pool for `listener` with fresh states and counters. */
export function poolFor(
  listener: ListenerConfig,
  states = new StateBook(),
  collector = new Collector(INFO, new ManualClock()),
) {
  const counters = collector.listener(listener.key, listener.name);
  const pool = new Pool(listener, {
    states,
    countersFor: (key, name) => collector.backend(counters, key, name),
    balancer: { random: () => 0.5 },
  });
  return { pool, states, collector };
}

/** Listeners, sessions, collector and states on the fake network, started with `cfg`. */
export async function fakeSluice(cfg: Config, options: { admit?: AdmitRule; router?: (pool: Pool) => Router } = {}) {
  const clock = new ManualClock();
  const network = fakeNetwork();
  const collector = new Collector(INFO, clock);
  const states = new StateBook();
  const sessions = new Sessions(collector.total, collector.recent);
  collector.addSource(() => sessions.foldAll());
  const { log, events } = memoryLogger(clock);
  const listeners = new Listeners({
    net: network.net,
    clock,
    log,
    collector,
    states,
    sessions,
    random: () => 0.5,
    admit: options.admit,
    router: options.router,
  });
  await listeners.start(cfg);
  const backend = (port: number, listener = cfg.listeners[0]) =>
    collector.backends(listener.key).find((b) => b.key === `127.0.0.1:${port}`)!;
  const listener = (l = cfg.listeners[0]) => collector.listener(l.key, l.name);
  return { clock, network, collector, states, sessions, listeners, log, events, backend, listener };
}
