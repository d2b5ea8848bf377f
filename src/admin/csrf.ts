/**
 * CSRF tokens without storage: HMAC-SHA-256 of the session id (or
 * `"anonymous"`) under a secret drawn at start, so a token is valid for one
 * session of this process only and a page of another origin cannot make one.
 *
 * @module
 */
import { toBase64Url } from "../config/password-hash.ts";
import { constantTimeEqualText } from "./password.ts";

/** The subject of requests that have no session (no credentials configured, Basic, bearer). */
export const ANONYMOUS = "anonymous";

/**
 * Makes and checks tokens.
 *
 * @example
 * ```ts
 * const csrf = new CsrfTokens();
 * const token = await csrf.token(session.id);
 * await csrf.verify(session.id, token); // true
 * ```
 */
export class CsrfTokens {
  private readonly key: Promise<CryptoKey>;

  /** `secret` is for tests; by default 32 random bytes, so tokens die when Sluice stops. */
  constructor(secret: Uint8Array = crypto.getRandomValues(new Uint8Array(32))) {
    this.key = crypto.subtle.importKey(
      "raw",
      secret as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
  }

  /** The token for `subject` (a session id or {@linkcode ANONYMOUS}), base64url. */
  async token(subject: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", await this.key, new TextEncoder().encode(subject));
    return toBase64Url(new Uint8Array(mac));
  }

  /** True when `token` is the token for `subject`, compared in constant time. */
  async verify(subject: string, token: string): Promise<boolean> {
    return constantTimeEqualText(await this.token(subject), token);
  }
}
