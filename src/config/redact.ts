/**
 * A configuration document made safe to show: the admin secrets replaced.
 *
 * @module
 */

/** What a secret is shown as. */
export const REDACTED = "<redacted>";

/** `[admin]` keys whose values are secrets (a hash is half of one: it can be attacked offline). */
const SECRET_KEYS = ["password_hash", "token"] as const;

/**
 * A copy of a raw configuration document (TOML-shaped) with `admin.password_hash`
 * and `admin.token` replaced by `"<redacted>"` where present; the input is not changed.
 *
 * @example
 * ```ts
 * redact({ admin: { username: "ops", token: "0123456789abcdef" } });
 * // { admin: { username: "ops", token: "<redacted>" } }
 * ```
 */
export function redact<T extends Record<string, unknown>>(document: T): T {
  const admin = document.admin;
  if (typeof admin !== "object" || admin === null || Array.isArray(admin)) return { ...document };
  const shown: Record<string, unknown> = { ...admin };
  for (const key of SECRET_KEYS) if (key in shown) shown[key] = REDACTED;
  return { ...document, admin: shown };
}
