/**
 * The text form of a password hash, `pbkdf2-sha256$<iterations>$<salt>$<hash>`
 * (salt and hash in base64), parsed and written here without any crypto, so
 * that the configuration can check `password_hash` and the admin server can
 * verify against it from one definition.
 *
 * @module
 */
import type { ParseResult } from "../net/address.ts";

/** The one scheme so far; the prefix leaves room for another later. */
export const HASH_SCHEME = "pbkdf2-sha256";
/** Fewer iterations than this is not a password hash worth the name. */
export const MIN_ITERATIONS = 1_000;
/** More would make every login (and every uncached Basic check) a denial of service. */
export const MAX_ITERATIONS = 10_000_000;
/** SHA-256's output: the derived key is this long. */
export const HASH_BYTES = 32;

/** A parsed password hash. */
export interface PasswordHash {
  readonly iterations: number;
  readonly salt: Uint8Array;
  readonly hash: Uint8Array;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** Standard base64 (padded) of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** URL-safe base64 without padding (cookie values, tokens). */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64(text: string): Uint8Array | undefined {
  if (text === "" || !BASE64.test(text)) return undefined;
  const padded = text + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/**
 * Parses `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`. The reason never
 * quotes the text: a mistyped hash in a log is still half a secret.
 *
 * @example
 * ```ts
 * parsePasswordHash("pbkdf2-sha256$600000$c2FsdHNhbHRzYWx0c2FsdA==$...");
 * ```
 */
export function parsePasswordHash(text: string): ParseResult<PasswordHash> {
  const fail = (why: string): ParseResult<PasswordHash> => ({
    ok: false,
    reason: `${why}; expected ${HASH_SCHEME}$<iterations>$<salt>$<hash> as printed by "sluice hash-password"`,
  });
  const parts = text.split("$");
  if (parts.length !== 4 || parts[0] !== HASH_SCHEME) return fail("not a password hash");
  const [, iterationsText, saltText, hashText] = parts;
  if (!/^\d{1,9}$/.test(iterationsText)) return fail("the iteration count is not a number");
  const iterations = Number(iterationsText);
  if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    return fail(`the iteration count must be ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
  }
  const salt = fromBase64(saltText);
  if (!salt || salt.length < 8) return fail("the salt must be at least 8 bytes of base64");
  const hash = fromBase64(hashText);
  if (!hash || hash.length !== HASH_BYTES) return fail(`the hash must be ${HASH_BYTES} bytes of base64`);
  return { ok: true, value: { iterations, salt, hash } };
}

/** The text form of a parsed hash. */
export function formatPasswordHash(parsed: PasswordHash): string {
  return `${HASH_SCHEME}$${parsed.iterations}$${toBase64(parsed.salt)}$${toBase64(parsed.hash)}`;
}
