/**
 * An exponentially weighted moving average over time: each sample moves the
 * average by a share that grows with the time since the last one, so a
 * backend that turns slow shows it within seconds whatever its traffic.
 *
 * @example
 * ```ts
 * const e = new Ewma(10_000);
 * e.observe(5, 0); // first sample: 5
 * e.observe(50, 10_000); // after one time constant: about 33
 * ```
 */
export class Ewma {
  /** The current average; 0 until the first sample. */
  value = 0;
  private readonly tauMs: number;
  private last = -Infinity;

  /** `tauMs`: the time constant; a sample that old weighs 1/e of a new one. */
  constructor(tauMs: number) {
    this.tauMs = tauMs;
  }

  /** Adds a sample taken at `now` (monotonic ms). */
  observe(sample: number, now: number): void {
    if (this.last === -Infinity) {
      this.value = sample;
    } else {
      const share = 1 - Math.exp(-Math.max(0, now - this.last) / this.tauMs);
      // Samples close together still count: at least a tenth each.
      this.value += (sample - this.value) * Math.max(share, 0.1);
    }
    this.last = now;
  }
}
