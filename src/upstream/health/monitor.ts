/**
 * Runs a listener's health checks: each backend is checked every interval
 * (with jitter, so checks do not march in step), and its health input turns
 * `down` after `fall` bad checks in a row and `up` after `rise` good ones.
 * Each change is logged once and counted. Runs on the main thread only;
 * worker threads get the result through `onChange`.
 *
 * @module
 */
import { backendKey, type ListenerConfig } from "../../config/schema.ts";
import type { Logger } from "../../log.ts";
import type { SocketAddress } from "../../net/address.ts";
import type { Clock } from "../../runtime/types.ts";
import type { BackendState, Health, StateBook } from "../state.ts";
import type { Check, CheckResult } from "./checks.ts";

/** What a monitor needs. */
export interface MonitorDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly states: StateBook;
  /** Returns a float in [0, 1), for jitter. */
  readonly random: () => number;
  readonly check: Check;
  /** Told after every check (latency for the `ewma` strategy). */
  onResult?(listener: string, backend: string, result: CheckResult): void;
  /** Told when a backend's health changed (worker threads mirror it; counters count it). */
  onChange?(listener: string, backend: string, health: Health): void;
}

/** One backend under watch. */
interface Target {
  readonly key: string;
  readonly name: string;
  readonly address: SocketAddress;
  good: number;
  bad: number;
  timer: unknown;
  stopped: boolean;
}

/** The checks of one listener. */
export class HealthMonitor {
  private readonly deps: MonitorDeps;
  private listener: ListenerConfig;
  private readonly targets = new Map<string, Target>();

  constructor(listener: ListenerConfig, deps: MonitorDeps) {
    this.deps = deps;
    this.listener = listener;
  }

  /** Starts checking every backend, the first check of each at a random point of the first interval. */
  start(): void {
    this.update(this.listener);
  }

  /** Takes a new backend list and settings: kept backends keep their counts, removed ones stop. */
  update(listener: ListenerConfig): void {
    this.listener = listener;
    const keep = new Set(listener.backends.map(backendKey));
    for (const [key, target] of this.targets) {
      if (!keep.has(key)) this.stopTarget(target);
    }
    const interval = listener.health!.intervalMs;
    for (const backend of listener.backends) {
      const key = backendKey(backend);
      if (this.targets.has(key)) continue;
      const target: Target = {
        key,
        name: backend.name,
        address: backend.address,
        good: 0,
        bad: 0,
        timer: undefined,
        stopped: false,
      };
      this.targets.set(key, target);
      this.schedule(target, this.deps.random() * interval);
    }
  }

  /** Stops every check; a check in flight finishes and is ignored. */
  stop(): void {
    for (const target of this.targets.values()) this.stopTarget(target);
  }

  private stopTarget(target: Target): void {
    target.stopped = true;
    this.deps.clock.clearTimeout(target.timer);
    this.targets.delete(target.key);
  }

  private schedule(target: Target, delayMs: number): void {
    target.timer = this.deps.clock.setTimeout(() => void this.run(target), delayMs);
  }

  private async run(target: Target): Promise<void> {
    const result = await this.deps.check(target.address);
    if (target.stopped) return;
    this.record(target, result);
    // Jitter of +-10% keeps many backends' checks from lining up.
    const interval = this.listener.health!.intervalMs;
    this.schedule(target, interval * (0.9 + 0.2 * this.deps.random()));
  }

  /** Counts a result and changes the backend's health when a run of results says so. */
  private record(target: Target, result: CheckResult): void {
    const { rise, fall } = this.listener.health!;
    const state = this.deps.states.get(this.listener.key, target.key, this.listener);
    state.lastCheck = {
      ok: result.ok,
      reason: result.reason,
      latencyMs: result.latencyMs,
      at: this.deps.clock.wallNow(),
    };
    this.deps.onResult?.(this.listener.key, target.key, result);
    if (result.ok) {
      target.good++;
      target.bad = 0;
      if (state.health === "down" && target.good >= rise) this.change(target, state, "up", result.reason);
    } else {
      target.bad++;
      target.good = 0;
      if (state.health === "up" && target.bad >= fall) this.change(target, state, "down", result.reason);
    }
  }

  private change(target: Target, state: BackendState, health: Health, reason: string): void {
    const from = state.health;
    state.health = health;
    const log = health === "down" ? this.deps.log.warn : this.deps.log.info;
    log.call(this.deps.log, "upstream.health", {
      listener: this.listener.name,
      backend: target.name,
      from,
      to: health,
      reason,
    });
    this.deps.onChange?.(this.listener.key, target.key, health);
  }
}
