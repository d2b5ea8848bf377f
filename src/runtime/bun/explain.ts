/**
 * Telling a refused connect from one that failed on our side, for Bun,
 * which reports both as ECONNREFUSED.
 *
 * @module
 */
import { closeSync, openSync } from "node:fs";

/**
 * Bun reports a connect that failed for want of a file descriptor as
 * ECONNREFUSED, which would eject a healthy backend. On a refusal, try to
 * open a descriptor ourselves: when that fails, the failure was ours.
 *
 * @example
 * ```ts
 * explainRefusal({ code: "ECONNREFUSED" }); // that error, or an EMFILE one when this process is out of descriptors
 * ```
 */
export function explainRefusal(error: unknown): unknown {
  if ((error as { code?: string })?.code !== "ECONNREFUSED") return error;
  try {
    closeSync(openSync("/dev/null", "r"));
    return error;
  } catch (probe) {
    const code = (probe as { code?: string })?.code;
    return code === "EMFILE" || code === "ENFILE" ? probe : error;
  }
}
