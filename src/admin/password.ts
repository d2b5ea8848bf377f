/**
 * Password hashing with PBKDF2-SHA-256 through WebCrypto (`crypto.subtle`,
 * a web standard every runtime has, so no runtime API and no dependency), and
 * comparisons whose time does not depend on where two secrets differ.
 *
 * @module
 */
import { formatPasswordHash, HASH_BYTES, parsePasswordHash } from "../config/password-hash.ts";

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA-256: about 0.1-0.3 s per check here, slow on purpose. */
export const DEFAULT_ITERATIONS = 600_000;
const SALT_BYTES = 16;
const encoder = new TextEncoder();

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as Uint8Array<ArrayBuffer>, iterations },
    key,
    HASH_BYTES * 8,
  );
  return new Uint8Array(bits);
}

/**
 * Hashes a password into `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>` with a fresh random salt.
 *
 * @example
 * ```ts
 * const line = await hashPassword("correct horse battery staple");
 * await verifyPassword("correct horse battery staple", line); // true
 * ```
 */
export async function hashPassword(password: string, iterations = DEFAULT_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  return formatPasswordHash({ iterations, salt, hash: await derive(password, salt, iterations) });
}

/** True when `password` matches `encoded` (iterations and salt come from it); false also for a malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded);
  if (!parsed.ok) return false;
  const { iterations, salt, hash } = parsed.value;
  return constantTimeEqual(await derive(password, salt, iterations), hash);
}

/**
 * Compares two byte strings in time that depends only on their lengths, not
 * on where they first differ (an early exit would let a client find a secret
 * byte by byte from response times).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** {@linkcode constantTimeEqual} on the UTF-8 bytes of two strings. */
export function constantTimeEqualText(a: string, b: string): boolean {
  return constantTimeEqual(encoder.encode(a), encoder.encode(b));
}

/** Hex SHA-256 of a text: a cache key that does not keep the secret it stands for. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
