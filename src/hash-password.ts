/**
 * `sluice hash-password`: the password on standard input, its hash line on
 * standard output, for `[admin] password_hash`.
 *
 * @module
 */
import { hashPassword } from "./admin/password.ts";
import type { HostPort } from "./runtime/types.ts";

/**
 * Reads the password from standard input (one trailing newline removed, as
 * `echo` and a typed line add it), prints its hash and resolves with the exit
 * code: 0, or 1 for an empty password.
 *
 * @example
 * ```ts
 * // printf 'secret' | sluice hash-password
 * // pbkdf2-sha256$600000$...$...
 * ```
 */
export async function hashPasswordCommand(
  host: Pick<HostPort, "readStdin" | "writeOut" | "writeErr">,
): Promise<number> {
  const password = (await host.readStdin()).replace(/\r?\n$/, "");
  if (password === "") {
    host.writeErr(
      "sluice: hash-password: no password on standard input (try: printf %s 'PASSWORD' | sluice hash-password)\n",
    );
    return 1;
  }
  host.writeOut(`${await hashPassword(password)}\n`);
  return 0;
}
