/**
 * Field schemas the configuration sections share: addresses, durations,
 * bounded integers and names, each turning its text into a value once.
 * Only `src/config/` imports this file.
 *
 * @module
 */
import * as v from "valibot";
import { parseAddress, type ParseAddressOptions, type ParseResult } from "../net/address.ts";
import { parseDuration } from "./duration.ts";

/** One problem in a configuration: where, and why. */
export interface ConfigIssue {
  /** Key path such as `listeners[1].backends[0].address`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

/** A transform from a parse function that returns a value or a reason. */
export const fromParse = <I, T>(parse: (value: I) => ParseResult<T>) =>
  v.rawTransform<I, T>(({ dataset, addIssue, NEVER }) => {
    const result = parse(dataset.value);
    if (result.ok) return result.value;
    addIssue({ message: result.reason });
    return NEVER;
  });

/** A `host:port` text parsed into an address. */
export const address = (options: ParseAddressOptions = {}) =>
  v.pipe(v.string(), fromParse((text: string) => parseAddress(text, options)));

/** A duration (text or seconds) parsed into milliseconds, at least `min`. */
export const duration = (options: { min?: number } = {}) =>
  v.pipe(
    v.union([v.number(), v.string()], 'expected a duration such as "5s" or a number of seconds'),
    fromParse((value: number | string): ParseResult<number> => {
      const parsed = parseDuration(value);
      if (parsed.ok && options.min !== undefined && parsed.value < options.min) {
        return { ok: false, reason: `must be at least ${options.min}ms, got ${JSON.stringify(value)}` };
      }
      return parsed;
    }),
  );

/** A whole number from `min` to `max`. */
export const integer = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** A label: 1-64 letters, digits or `_.:-`. */
export const name = v.pipe(
  v.string(),
  v.regex(NAME, "must be 1-64 letters, digits or _.:- and start with a letter or digit"),
);
