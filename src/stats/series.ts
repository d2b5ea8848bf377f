import { Ring } from "./ring.ts";

/** Per-second points kept: the last 5 minutes. */
export const SECONDS_KEPT = 300;
/** Per-minute points kept: the last 24 hours. */
export const MINUTES_KEPT = 1440;

/**
 * One metric over time: a point per second for 5 minutes and a point per
 * minute for 24 hours. Rates are summed into the minute; gauges are averaged.
 *
 * @example
 * ```ts
 * const s = new Series("rate");
 * s.add(5); // one second's worth
 * s.seconds.last(); // 5
 * ```
 */
export class Series {
  readonly seconds = new Ring(SECONDS_KEPT);
  readonly minutes = new Ring(MINUTES_KEPT);
  private minuteSum = 0;
  private minuteCount = 0;

  constructor(readonly kind: "rate" | "gauge") {}

  /** Records one second's value; every 60th call closes a minute. */
  add(value: number): void {
    this.seconds.push(value);
    this.minuteSum += value;
    if (++this.minuteCount === 60) {
      this.minutes.push(this.kind === "rate" ? this.minuteSum : this.minuteSum / 60);
      this.minuteSum = 0;
      this.minuteCount = 0;
    }
  }
}
