/**
 * Passive failure detection, as nginx's `max_fails`/`fail_timeout`: after
 * `maxFails` failed connects within `failTimeoutMs`, the backend is out for
 * `failTimeoutMs`. A successful connect forgets earlier failures.
 *
 * @example
 * ```ts
 * const b = new Breaker(2, 10_000);
 * b.recordFailure(0); // false
 * b.recordFailure(1); // true: tripped
 * b.isOpen(5_000); // true
 * b.isOpen(10_001); // false
 * ```
 */
export class Breaker {
  maxFails: number;
  failTimeoutMs: number;
  private failures = 0;
  private windowStart = 0;
  private openUntil = -Infinity;

  constructor(maxFails: number, failTimeoutMs: number) {
    this.maxFails = maxFails;
    this.failTimeoutMs = failTimeoutMs;
  }

  /** Counts a failed connect at `now`; returns true when this failure trips the breaker. */
  recordFailure(now: number): boolean {
    if (this.maxFails === 0 || this.isOpen(now)) return false;
    if (this.failures === 0 || now - this.windowStart > this.failTimeoutMs) {
      this.windowStart = now;
      this.failures = 0;
    }
    if (++this.failures < this.maxFails) return false;
    this.failures = 0;
    this.openUntil = now + this.failTimeoutMs;
    return true;
  }

  /** Counts a successful connect: earlier failures and any open period are forgotten. */
  recordSuccess(): void {
    this.failures = 0;
    this.openUntil = -Infinity;
  }

  /** When the open period ends (monotonic ms); -Infinity when closed. */
  get openEnds(): number {
    return this.openUntil;
  }

  /** True while the backend should get no new connections. */
  isOpen(now: number): boolean {
    return now < this.openUntil;
  }
}
