/**
 * The running health checks: one monitor per listener with a `[health]`
 * section, on the main thread, kept across reloads (a kept listener's
 * monitor takes the new backend list; changed check settings start a new
 * one). Results reach worker threads through `setHealth`.
 *
 * @module
 */
import { backendKey, type Config, type ListenerConfig } from "./config/schema.ts";
import type { Logger } from "./log.ts";
import { formatAddress } from "./net/address.ts";
import type { Runtime } from "./runtime/types.ts";
import type { Collector } from "./stats/collector.ts";
import { buildCheck } from "./upstream/health/checks.ts";
import { HealthMonitor } from "./upstream/health/monitor.ts";
import type { Pool } from "./upstream/pool.ts";
import type { Health, StateBook } from "./upstream/state.ts";

/** What the checks need. */
export interface ChecksDeps {
  readonly runtime: Runtime;
  readonly log: Logger;
  readonly states: StateBook;
  readonly collector: Collector;
  /** The pool of a listener served on this thread (check latency feeds `ewma`). */
  pool(key: string): Pool | undefined;
  /** Tells every thread a backend's health. */
  setHealth(listener: string, backend: string, health: Health): void;
}

/** Every listener's monitor, by listener key. */
export class HealthChecks {
  private readonly deps: ChecksDeps;
  private readonly monitors = new Map<string, { monitor: HealthMonitor; settings: string }>();
  /** The listeners as last configured, for names at the time of a change. */
  private listeners = new Map<string, ListenerConfig>();

  constructor(deps: ChecksDeps) {
    this.deps = deps;
  }

  /** Starts, updates and stops monitors so that they match `config`. */
  apply(config: Config): void {
    const before = this.listeners;
    this.listeners = new Map(config.listeners.map((l) => [l.key, l]));
    for (const [key, { monitor }] of this.monitors) {
      const now = this.listeners.get(key);
      if (now?.health) continue;
      monitor.stop();
      this.monitors.delete(key);
      // Checks turned off: nothing will ever say "up" again, so what they last said no longer holds.
      if (now) { for (const backend of before.get(key)?.backends ?? []) this.up(key, backendKey(backend)); }
    }
    for (const listener of config.listeners) {
      if (!listener.health) continue;
      const settings = JSON.stringify([listener.protocol, listener.health]);
      const running = this.monitors.get(listener.key);
      if (running?.settings === settings) {
        running.monitor.update(listener);
        continue;
      }
      running?.monitor.stop();
      const monitor = this.monitor(listener);
      this.monitors.set(listener.key, { monitor, settings });
      monitor.start();
    }
  }

  private up(listener: string, backend: string): void {
    const state = this.deps.states.find(listener, backend);
    if (state && state.health !== "up") state.health = "up";
    this.deps.setHealth(listener, backend, "up");
  }

  /** Stops every check. */
  stop(): void {
    for (const { monitor } of this.monitors.values()) monitor.stop();
    this.monitors.clear();
  }

  private monitor(listener: ListenerConfig): HealthMonitor {
    const { runtime, log, states, collector } = this.deps;
    const health = listener.health!;
    return new HealthMonitor(listener, {
      clock: runtime.clock,
      log,
      states,
      random: Math.random,
      check: buildCheck(runtime.net, runtime.clock, listener.protocol, health),
      onResult: (key, backend, result) => {
        const member = this.deps.pool(key)?.backends.find((b) => b.key === backend);
        // A check that failed counts as slow as its timeout, as a failed connect does.
        member?.latency.observe(result.ok ? result.latencyMs : health.timeoutMs, runtime.clock.now());
      },
      onChange: (key, backend, state) => {
        const now = this.listeners.get(key);
        if (now) {
          const name = now.backends.find((b) => formatAddress(b.address) === backend)?.name ?? backend;
          collector.backend(collector.listener(key, now.name), backend, name).healthTransitions++;
        }
        this.deps.setHealth(key, backend, state);
      },
    });
  }
}
