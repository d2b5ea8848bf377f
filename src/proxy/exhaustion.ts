/**
 * Running out of local resources (file descriptors, ephemeral ports): a
 * proxy in that state refuses new work, backs off, and recovers when they
 * free up. This tracks such an episode so it is logged once when it starts and
 * once when it ends, not per failure, and so `/healthz` can say 503 meanwhile.
 *
 * @module
 */
import type { Logger } from "../log.ts";

/** An episode ends after this long without a new failure. */
const QUIET_MS = 5000;

/** Local resource failures of one thread. */
export class Exhaustion {
  private readonly log: Logger;
  /** Where the episode is published for other threads and views (`TotalCounters.exhausted`). */
  private readonly flag: { exhausted: number } | undefined;
  private active = false;
  private lastAt = -Infinity;
  private failures = 0;

  constructor(log: Logger, flag?: { exhausted: number }) {
    this.log = log;
    this.flag = flag;
  }

  /** Records a failure of ours at `source` (`accept`, `connect`, `admin`); the first of an episode is logged. */
  report(source: string, error: string, now: number): void {
    this.lastAt = now;
    this.failures++;
    if (this.active) return;
    this.active = true;
    if (this.flag) this.flag.exhausted = 1;
    this.log.warn("resources.exhausted", { source, error });
  }

  /** Ends an episode once no failure came for a while; the listeners' sweep calls this. */
  check(now: number): void {
    if (!this.active || now - this.lastAt < QUIET_MS) return;
    this.active = false;
    if (this.flag) this.flag.exhausted = 0;
    this.log.info("resources.recovered", { failures: this.failures });
    this.failures = 0;
  }

  /** True during an episode. */
  isActive(now: number): boolean {
    return this.active && now - this.lastAt < QUIET_MS;
  }
}
