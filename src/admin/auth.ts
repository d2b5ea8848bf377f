/**
 * The admin server's guard, one middleware in front of every route: the Host
 * check, the cross-origin check on mutations, authentication (session cookie,
 * Basic, bearer token, or none when no credentials are configured), the CSRF
 * check, and the `admin.action` log line of every mutation.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { AdminAuth, AdminConfig } from "../config/admin.ts";
import type { Logger } from "../log.ts";
import { shownAddress } from "../net/anonymize.ts";
import type { Clock, HttpRequestInfo } from "../runtime/types.ts";
import { ANONYMOUS, CsrfTokens } from "./csrf.ts";
import { type LimiterOptions, LoginLimiter } from "./limiter.ts";
import { crossOrigin, fromBrowser, hostAccepted, SAFE_METHODS } from "./origin.ts";
import { constantTimeEqualText, hashPassword, sha256Hex, verifyPassword } from "./password.ts";
import { type Session, SessionStore } from "./sessions.ts";

type Env = { Bindings: HttpRequestInfo };
/** The admin app's request context. */
export type AdminContext = Context<Env>;

/** The session cookie's name. */
export const SESSION_COOKIE = "sluice_session";
/** A Basic header that passed is trusted this long without another slow hash. */
const BASIC_CACHE_MS = 5 * 60_000;
const BASIC_CACHE_MAX = 256;
/** Form bodies are read before authentication is complete (the CSRF field), so they are kept small. */
const MAX_FORM_BYTES = 64 * 1024;

/** Who made a request, and how that was established. */
export interface Identity {
  /** The username, `"token"`, or `"anonymous"`. */
  readonly who: string;
  /** `none`: no credentials are configured, or a public path. */
  readonly via: "session" | "basic" | "token" | "none";
  readonly session?: Session;
}

const NOBODY: Identity = { who: ANONYMOUS, via: "none" };
const TOKEN: Identity = { who: "token", via: "token" };

/** What the guard is built from. */
export interface GuardOptions {
  /** The `[admin]` section; absent or null means no credentials, default rules. */
  readonly admin?: AdminConfig | null;
  readonly clock: Clock;
  readonly log?: Logger;
  /** Mask client addresses in log lines (`anonymize_ips`). */
  readonly anonymize?: boolean;
  /** Session lifetime and bound (tests shorten them). */
  readonly sessions?: { readonly ttlMs?: number; readonly max?: number };
  readonly limiter?: LimiterOptions;
}

/** Outcome of a form login. */
export type LoginResult = { ok: true; session: Session } | { ok: false; retryAfterMs: number };

/**
 * The guard. Its {@linkcode AdminGuard.middleware} goes first on the app; the
 * login routes use {@linkcode AdminGuard.login}, and pages embed
 * {@linkcode AdminGuard.csrfToken} in their forms.
 *
 * @example
 * ```ts
 * const guard = new AdminGuard({ admin: config.admin, clock, log });
 * app.use("*", guard.middleware);
 * app.get("/page", async (c) => c.html(`<input type="hidden" name="csrf" value="${await guard.csrfToken(c)}">`));
 * ```
 */
export class AdminGuard {
  readonly sessions: SessionStore;
  private readonly auth: AdminAuth | null;
  private readonly hosts: readonly string[];
  private readonly publicMetrics: boolean;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private readonly anonymize: boolean;
  private readonly limiter: LoginLimiter;
  private readonly csrf = new CsrfTokens();
  // Keyed by the context: a body limit may replace the raw request on the way in.
  private readonly identities = new WeakMap<object, Identity>();
  private readonly basicCache = new Map<string, { who: string; expires: number }>();
  private readonly checking = new Map<string, Promise<boolean>>();
  private readonly passwordHash: Promise<string> | null;

  constructor(options: GuardOptions) {
    this.auth = options.admin?.auth ?? null;
    this.hosts = options.admin?.hosts ?? [];
    this.publicMetrics = options.admin?.publicMetrics ?? false;
    this.clock = options.clock;
    this.log = options.log;
    this.anonymize = options.anonymize ?? false;
    this.sessions = new SessionStore(options.sessions);
    this.limiter = new LoginLimiter(options.limiter);
    const auth = this.auth;
    // WEB_PASSWORD is hashed once, now, and then checked like a configured hash.
    this.passwordHash = auth?.passwordHash != null
      ? Promise.resolve(auth.passwordHash)
      : auth?.password != null
      ? hashPassword(auth.password)
      : null;
    // A failure surfaces as a refused login (checkPassword), not as an unhandled rejection before the first one.
    this.passwordHash?.catch(() => {});
  }

  /** True when credentials are configured (and so a login means something). */
  get required(): boolean {
    return this.auth !== null;
  }

  /** Host, Origin, authentication and CSRF checks; logs every mutation as `admin.action`. */
  readonly middleware: MiddlewareHandler<Env> = async (c, next) => {
    const method = c.req.method;
    if (SAFE_METHODS.has(method)) {
      // Load balancers and orchestrators probe /healthz by whatever name they know the host by.
      if (c.req.path === "/healthz") return await next();
      return await this.check(c, next, false);
    }
    const refused = await this.check(c, next, true);
    this.log?.info("admin.action", {
      who: this.identities.get(c)?.who ?? ANONYMOUS,
      from: this.from(c),
      method,
      path: c.req.path,
      status: (refused ?? c.res).status,
    });
    return refused;
  };

  /** Who made this request, once the middleware has let it through. */
  identity(c: AdminContext): Identity | undefined {
    return this.identities.get(c);
  }

  /** The CSRF token for this request's session (or the anonymous one): what a page puts in its forms. */
  csrfToken(c: AdminContext): Promise<string> {
    return this.csrf.token(subjectOf(this.identities.get(c) ?? NOBODY));
  }

  /**
   * Checks a form login, rate-limited per client address, and logs it
   * (`admin.login`); a good one gets a new session.
   */
  async login(c: AdminContext, username: string, password: string): Promise<LoginResult> {
    const ip = remoteOf(c).host;
    const wait = this.limiter.attempt(ip, this.clock.now());
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    const ok = await this.checkPassword(username, password);
    this.logLogin(c, "form", username, ok);
    if (!ok) return { ok: false, retryAfterMs: 0 };
    this.limiter.succeeded(ip);
    return { ok: true, session: this.sessions.create(username, this.clock.now()) };
  }

  /** Ends this request's session, if it came with one. */
  logout(c: AdminContext): void {
    const session = this.identities.get(c)?.session;
    if (session) this.sessions.delete(session.id);
  }

  private async check(c: AdminContext, next: () => Promise<void>, mutation: boolean): Promise<Response | void> {
    const signs = {
      host: c.req.header("host"),
      origin: c.req.header("origin"),
      secFetchSite: c.req.header("sec-fetch-site"),
    };
    if (!hostAccepted(signs.host, this.hosts)) {
      return c.json({
        error: `Host ${JSON.stringify(signs.host ?? "")} is not accepted: use an IP address, localhost, ` +
          "or a name listed in admin.hosts",
      }, 403);
    }
    const reason = mutation ? crossOrigin(signs) : undefined;
    if (reason) return c.json({ error: reason }, 403);
    // The login form is for those without a session: its own CSRF token is always the anonymous one.
    const found = c.req.path === "/login" ? NOBODY : await this.authenticate(c);
    if (found instanceof Response) return found;
    const identity = found ?? (this.isPublic(c) ? NOBODY : undefined);
    if (!identity) return this.challenge(c);
    this.identities.set(c, identity);
    // A cookie rides along on requests another page makes; Basic does too in a browser that cached it.
    if (mutation && (identity.via === "session" || fromBrowser(signs))) {
      const form = c.req.header("x-csrf-token") === undefined ? await readForm(c) : {};
      if (form instanceof Response) return form;
      const token = c.req.header("x-csrf-token") ?? form.csrf;
      if (token === undefined || !(await this.csrf.verify(subjectOf(identity), token))) {
        return c.json({
          error: "missing or invalid CSRF token: send it as X-CSRF-Token or a csrf form field (GET /api/v1/csrf)",
        }, 403);
      }
    }
    await next();
  }

  /** The identity a request proves, null when it proves none, or the refusal of bad credentials. */
  private async authenticate(c: AdminContext): Promise<Identity | Response | null> {
    if (this.auth === null) return NOBODY;
    const header = c.req.header("authorization");
    if (header !== undefined) return await this.fromAuthorization(c, header, this.auth);
    const id = getCookie(c, SESSION_COOKIE);
    const session = id ? this.sessions.get(id, this.clock.now()) : undefined;
    return session ? { who: session.username, via: "session", session } : null;
  }

  private async fromAuthorization(c: AdminContext, header: string, auth: AdminAuth): Promise<Identity | Response> {
    const space = header.indexOf(" ");
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const value = space < 0 ? "" : header.slice(space + 1).trim();
    const ip = remoteOf(c).host;
    const now = this.clock.now();
    if (scheme === "bearer") {
      // Checked before comparing: otherwise a locked-out client could still tell a right token from a wrong one.
      const wait = this.limiter.wait(ip, now);
      if (wait > 0) return tooMany(c, wait);
      if (auth.token !== null && constantTimeEqualText(value, auth.token)) return TOKEN;
      this.limiter.attempt(ip, now);
      return unauthorized(c, "invalid bearer token");
    }
    if (scheme !== "basic") return unauthorized(c, `unsupported Authorization scheme "${scheme}"`);
    const credentials = decodeBasic(value);
    if (!credentials) return unauthorized(c, "malformed Basic credentials");
    const key = await sha256Hex(header);
    const cached = this.basicCache.get(key);
    if (cached && cached.expires > now) return { who: cached.who, via: "basic" };
    let pending = this.checking.get(key);
    if (!pending) {
      // One slow hash for a burst of identical requests, counted once.
      const wait = this.limiter.attempt(ip, now);
      if (wait > 0) return tooMany(c, wait);
      pending = this.checkPassword(credentials.username, credentials.password);
      this.checking.set(key, pending);
      pending.then(() => this.checking.delete(key));
      const ok = await pending;
      this.logLogin(c, "basic", credentials.username, ok);
      if (ok) {
        this.limiter.succeeded(ip);
        this.remember(key, credentials.username);
      }
    }
    if (!(await pending)) return unauthorized(c, "wrong username or password");
    return { who: credentials.username, via: "basic" };
  }

  /** Constant-time on the name; the password's hash runs whatever the name, so a wrong name takes as long. */
  private async checkPassword(username: string, password: string): Promise<boolean> {
    if (this.auth?.username == null || this.passwordHash === null) return false;
    try {
      const good = await verifyPassword(password, await this.passwordHash);
      return constantTimeEqualText(username, this.auth.username) && good;
    } catch {
      return false;
    }
  }

  private remember(key: string, who: string): void {
    const now = this.clock.now();
    if (this.basicCache.size >= BASIC_CACHE_MAX) {
      for (const [k, entry] of this.basicCache) if (entry.expires <= now) this.basicCache.delete(k);
      if (this.basicCache.size >= BASIC_CACHE_MAX) this.basicCache.delete(this.basicCache.keys().next().value!);
    }
    this.basicCache.set(key, { who, expires: now + BASIC_CACHE_MS });
  }

  private isPublic(c: AdminContext): boolean {
    return this.publicMetrics && c.req.path === "/metrics" && SAFE_METHODS.has(c.req.method);
  }

  /** Browsers asking for a page go to the login form; everyone else gets a 401 that offers Basic. */
  private challenge(c: AdminContext): Response {
    const method = c.req.method;
    if ((method === "GET" || method === "HEAD") && (c.req.header("accept") ?? "").includes("text/html")) {
      const url = new URL(c.req.url);
      return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 302);
    }
    return unauthorized(c, "authentication required");
  }

  private logLogin(c: AdminContext, method: "form" | "basic", username: string, ok: boolean): void {
    const fields = { result: ok ? "ok" : "failed", method, username: username.slice(0, 64), from: this.from(c) };
    if (ok) this.log?.info("admin.login", fields);
    else this.log?.warn("admin.login", fields);
  }

  private from(c: AdminContext): string {
    return shownAddress(remoteOf(c), this.anonymize);
  }
}

/** Whose CSRF token a request needs: its session's, or the anonymous one. */
function subjectOf(identity: Identity): string {
  return identity.session?.id ?? ANONYMOUS;
}

function remoteOf(c: AdminContext): { host: string; port: number } {
  return c.env?.remote ?? { host: "unknown", port: 0 };
}

function unauthorized(c: AdminContext, error: string): Response {
  return c.json({ error }, 401, { "WWW-Authenticate": 'Basic realm="sluice"' });
}

/** 429 with Retry-After in whole seconds. */
export function tooMany(c: AdminContext, waitMs: number): Response {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return c.json({ error: `too many failed logins from this address; try again in ${seconds} s` }, 429, {
    "Retry-After": String(seconds),
  });
}

function decodeBasic(value: string): { username: string; password: string } | undefined {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0)),
    );
    const colon = text.indexOf(":");
    return colon < 0 ? undefined : { username: text.slice(0, colon), password: text.slice(colon + 1) };
  } catch {
    return undefined;
  }
}

const FORM_TYPES = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

/**
 * The text fields of a form body (urlencoded or multipart; empty for other
 * bodies), or a 413 when it is too large or of unknown length: forms are read
 * before anyone is authenticated, so their size is checked before reading.
 */
export async function readForm(c: AdminContext): Promise<Record<string, string> | Response> {
  if (!FORM_TYPES.test(c.req.header("content-type") ?? "")) return {};
  const length = Number(c.req.header("content-length"));
  if (!Number.isFinite(length) || length > MAX_FORM_BYTES) {
    return c.json({ error: `a form body needs a Content-Length of at most ${MAX_FORM_BYTES} bytes` }, 413);
  }
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(await c.req.parseBody())) {
    if (typeof value === "string") fields[key] = value;
  }
  return fields;
}
