/**
 * The routes of the guard: the login form (`GET`/`POST /login`), `POST /logout`
 * and `GET /api/v1/csrf`. The form is plain server-rendered HTML that works
 * without JavaScript.
 *
 * @module
 */
import type { Hono } from "hono";
import type { HttpRequestInfo } from "../runtime/types.ts";
import { type AdminContext, type AdminGuard, readForm, SESSION_COOKIE, tooMany } from "./auth.ts";
import { safeNext } from "./origin.ts";

/** Paths these routes serve with the methods each takes, for the 405 answer on others. */
export const LOGIN_PATHS: Readonly<Record<string, string>> = {
  "/login": "GET, HEAD, POST",
  "/logout": "POST",
  "/api/v1/csrf": "GET, HEAD",
};

// No script, no framing, no form posts elsewhere: the page has nothing to inject into or overlay.
const PAGE_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; " +
    "base-uri 'none'",
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
  // Not no-referrer: with it a browser sends "Origin: null" on the form's POST, which the guard refuses as cross-origin.
  "Referrer-Policy": "same-origin",
};

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);

/** The login page; `error` is shown above the form. */
function loginPage(options: { next: string; csrf: string; username?: string; error?: string }): string {
  const error = options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice: log in</title><link rel="icon" href="data:,">
<style>
body{font:16px/1.4 system-ui,sans-serif;background:#f4f5f7;color:#1d2330;display:grid;place-items:center;min-height:100vh;margin:0}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:min(20rem,90vw)}
h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.8rem 0 .2rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #b8bfcc;border-radius:4px}
button{margin-top:1.2rem;width:100%;padding:.6rem;font:inherit;border:0;border-radius:4px;background:#2458d6;color:#fff}
.error{color:#a4161a;margin:0 0 .5rem}
@media (prefers-color-scheme:dark){body{background:#15181e;color:#e6e8ee}form{background:#1f232b}input{background:#15181e;color:inherit;border-color:#444b59}}
</style></head>
<body><form method="post" action="/login">
<h1>Sluice</h1>${error}
<input type="hidden" name="next" value="${escapeHtml(options.next)}">
<input type="hidden" name="csrf" value="${escapeHtml(options.csrf)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${
    escapeHtml(options.username ?? "")
  }">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button>
</form></body></html>
`;
}

const wantsHtml = (c: AdminContext) => (c.req.header("accept") ?? "").includes("text/html");

/** The session cookie: not readable by scripts, never sent by another site's requests, gone with the session. */
function sessionCookie(value: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${value}; Max-Age=${maxAgeSeconds}; Path=/; HttpOnly; SameSite=Strict`;
}

/**
 * Registers `/login`, `/logout` and `/api/v1/csrf` on the admin app. The
 * guard's middleware must already be installed: it authenticates these
 * requests and checks their CSRF tokens.
 */
export function loginRoutes(app: Hono<{ Bindings: HttpRequestInfo }>, guard: AdminGuard): void {
  app.get("/login", async (c) => {
    const next = safeNext(c.req.query("next"));
    // Without credentials there is nothing to log in to.
    if (!guard.required) return c.redirect(next, 302);
    return c.html(loginPage({ next, csrf: await guard.csrfToken(c) }), 200, PAGE_HEADERS);
  });

  app.post("/login", async (c) => {
    const form = await readForm(c);
    if (form instanceof Response) return form;
    const field = (name: string) => form[name] ?? "";
    const next = safeNext(field("next"));
    if (!guard.required) return c.redirect(next, 303);
    const username = field("username");
    const result = await guard.login(c, username, field("password"));
    if (result.ok) {
      const maxAge = Math.floor(guard.sessions.ttlMs / 1000);
      c.header("Set-Cookie", sessionCookie(result.session.id, maxAge));
      return c.redirect(next, 303);
    }
    const refusal = result.retryAfterMs > 0 ? tooMany(c, result.retryAfterMs) : undefined;
    if (!wantsHtml(c)) {
      return refusal ?? c.json({ error: "wrong username or password" }, 401);
    }
    const error = refusal
      ? `Too many failed logins; try again in ${refusal.headers.get("Retry-After")} s.`
      : "Wrong username or password.";
    const page = loginPage({ next, csrf: await guard.csrfToken(c), username, error });
    const headers: Record<string, string> = { ...PAGE_HEADERS };
    if (refusal) headers["Retry-After"] = refusal.headers.get("Retry-After")!;
    return c.html(page, refusal ? 429 : 401, headers);
  });

  app.post("/logout", (c) => {
    guard.logout(c);
    c.header("Set-Cookie", sessionCookie("", 0));
    return wantsHtml(c) ? c.redirect("/login", 303) : c.json({ logged_out: true });
  });

  app.get(
    "/api/v1/csrf",
    async (c) => c.json({ token: await guard.csrfToken(c) }, 200, { "Cache-Control": "no-store" }),
  );

  for (const [path, allow] of Object.entries(LOGIN_PATHS)) {
    app.all(path, (c) => c.json({ error: `${c.req.method} is not allowed on ${path}` }, 405, { Allow: allow }));
  }
}
