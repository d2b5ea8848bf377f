/**
 * A fixed-size ring of numbers: pushing past capacity overwrites the oldest.
 * Memory is allocated once, so a long-running process never grows here.
 *
 * @example
 * ```ts
 * const r = new Ring(3);
 * r.push(1); r.push(2); r.push(3); r.push(4);
 * r.toArray(); // [2, 3, 4]
 * ```
 */
export class Ring {
  private readonly values: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity);
  }

  /** Number of values held (at most `capacity`). */
  get length(): number {
    return this.filled;
  }

  push(value: number): void {
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
    if (this.filled < this.capacity) this.filled++;
  }

  /** The most recent value, or 0 when empty. */
  last(): number {
    return this.filled === 0 ? 0 : this.values[(this.next - 1 + this.capacity) % this.capacity];
  }

  /** Values oldest first; allocates, so for views, not the hot path. */
  toArray(): number[] {
    const out = new Array<number>(this.filled);
    const start = (this.next - this.filled + this.capacity) % this.capacity;
    for (let i = 0; i < this.filled; i++) out[i] = this.values[(start + i) % this.capacity];
    return out;
  }
}
