/**
 * The admin server's authentication and safety over real HTTP on this
 * runtime: no credentials (loopback rules, Host, Origin, CSRF), a login form
 * and its session cookie, Basic and bearer (also through curl), the login
 * rate limit, session expiry on a manual clock, configuration errors and
 * `sluice hash-password` through the real CLI.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import * as http from "node:http";
import { fileURLToPath } from "node:url";
import { createAdminApp } from "../src/admin/app.ts";
import { hashPassword, verifyPassword } from "../src/admin/password.ts";
import { type Sluice, startSluice } from "../src/compose.ts";
import { loadObject, type LoadOptions } from "../src/config/load.ts";
import { selectRuntime } from "../src/runtime/select.ts";
import type { HttpServer } from "../src/runtime/types.ts";
import { Collector } from "../src/stats/collector.ts";
import { StateBook } from "../src/upstream/state.ts";
import { ManualClock } from "./helpers/fakes.ts";
import { memoryLog } from "./helpers/log.ts";
import { sluiceArgv, tempFile } from "./helpers/spawn.ts";

const runtime = selectRuntime();
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "test-token-0123456789abcdef";
const HTML = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with exactly the headers given (node:http adds Host, which a test may replace). */
function request(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: options.method ?? "GET", headers: options.headers, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

const json = (reply: Reply) => JSON.parse(reply.body);
/** A form body and its headers. */
const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  method: "POST",
  body: new URLSearchParams(fields).toString(),
  headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
});
/** `name=value` of the first Set-Cookie. */
const cookieOf = (reply: Reply) => reply.headers["set-cookie"]?.[0]?.split(";")[0] ?? "";
const basic = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;

/** curl's exit code, status line code and body; `-w` appends the status after the body. */
function curl(args: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile("curl", ["-s", "-w", "\n%{http_code}", "--max-time", "10", ...args], (error, stdout) => {
      if (error) return reject(error);
      const cut = stdout.lastIndexOf("\n");
      resolve({ status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) });
    });
  });
}

const sluices: Sluice[] = [];
const servers: HttpServer[] = [];
after(async () => {
  for (const s of sluices) await s.shutdown();
  for (const s of servers) await s.close();
});

/** Sluice in process with `admin` as its `[admin]` section (on 127.0.0.1, port 0). */
async function start(admin: Record<string, unknown> = {}, options: LoadOptions = {}) {
  const loaded = loadObject({
    admin: { listen: "127.0.0.1:0", ...admin },
    listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [{ address: "127.0.0.1:9" }] }],
  }, options);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const memory = memoryLog();
  const sluice = await startSluice(runtime, loaded.config, { log: memory.log });
  sluices.push(sluice);
  return { sluice, port: sluice.adminAddress!.port, ...memory };
}

/** Runs the real CLI with `stdin` and extra environment; resolves with exit code and output. */
function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const [command, ...rest] = sluiceArgv(args);
    const child = spawn(command, rest, { cwd: ROOT, env: { ...process.env, ...options.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? "");
  });
}

describe(`admin without credentials on ${runtime.name}`, () => {
  test("reads are open on loopback; Host must be an IP literal or localhost (/healthz takes any)", async () => {
    const { port } = await start();
    assert.equal((await request(port, "/api/v1/stats")).status, 200);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "[::1]", "10.9.8.7"]) {
      assert.equal((await request(port, "/api/v1/stats", { headers: { host } })).status, 200, host);
    }
    for (const host of ["evil.example", `evil.example:${port}`, `localhost.evil.example:${port}`]) {
      const reply = await request(port, "/api/v1/stats", { headers: { host } });
      assert.equal(reply.status, 403, host);
      assert.match(json(reply).error, /^Host "[^"]+" is not accepted/);
    }
    const health = await request(port, "/healthz", { headers: { host: "evil.example" } });
    assert.deepEqual([health.status, health.body], [200, "ok\n"]);
    // Nothing to log in to: the form sends the browser on.
    const login = await request(port, "/login?next=/api/v1/stats", { headers: HTML });
    assert.deepEqual([login.status, login.headers.location], [302, "/api/v1/stats"]);
  });

  test("mutations: cross-origin refused, a browser needs the CSRF token, curl needs none; each is logged", async () => {
    const { port, events } = await start();
    const origin = `http://127.0.0.1:${port}`;
    const cases: [Record<string, string>, number, RegExp | undefined][] = [
      [{ origin: "http://evil.example" }, 403, /Origin http:\/\/evil\.example is not http:\/\/127\.0\.0\.1:\d+/],
      [{ origin: "null" }, 403, /cross-origin/],
      [{ "sec-fetch-site": "cross-site" }, 403, /Sec-Fetch-Site is cross-site/],
      [{ "sec-fetch-site": "same-site" }, 403, /Sec-Fetch-Site is same-site/],
      [{ origin }, 403, /missing or invalid CSRF token/],
      [{ origin, "x-csrf-token": "forged" }, 403, /missing or invalid CSRF token/],
      [{}, 200, undefined],
    ];
    for (const [headers, status, error] of cases) {
      const reply = await request(port, "/logout", { method: "POST", headers });
      assert.equal(reply.status, status, JSON.stringify(headers));
      if (error) assert.match(json(reply).error, error);
    }
    const { token } = json(await request(port, "/api/v1/csrf", { headers: { "sec-fetch-site": "same-origin" } }));
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const withToken = await request(port, "/logout", {
      method: "POST",
      headers: { origin, "sec-fetch-site": "same-origin", "x-csrf-token": token },
    });
    assert.equal(withToken.status, 200);
    const asForm = await request(port, "/logout", form({ csrf: token }, { origin }));
    assert.equal(asForm.status, 200, "the token as a form field");
    // The guard comes before routing: a cross-origin POST anywhere is refused, a plain one reaches the 404/405.
    assert.equal(
      (await request(port, "/nope", { method: "POST", headers: { origin: "http://evil.example" } })).status,
      403,
    );
    assert.equal((await request(port, "/nope", { method: "POST" })).status, 404);
    assert.equal((await request(port, "/api/v1/stats", { method: "DELETE" })).status, 405);
    const getLogout = await request(port, "/logout");
    assert.deepEqual([getLogout.status, getLogout.headers.allow], [405, "POST"], "safe, so not logged");
    const actions = events("admin.action");
    assert.equal(actions.length, cases.length + 5);
    assert.deepEqual(
      { ...actions[0], time: undefined, from: undefined },
      {
        time: undefined,
        level: "info",
        event: "admin.action",
        who: "anonymous",
        from: undefined,
        method: "POST",
        path: "/logout",
        status: 403,
      },
    );
    assert.match(actions[0].from as string, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(actions.map((a) => a.status), [403, 403, 403, 403, 403, 403, 200, 200, 200, 403, 404, 405]);
  });

  test("curl: a POST with a foreign Origin is refused, a plain one is not", async () => {
    const { port } = await start();
    const refused = await curl(["-X", "POST", "-H", "Origin: http://evil.example", `http://127.0.0.1:${port}/logout`]);
    assert.equal(refused.status, 403);
    assert.match(JSON.parse(refused.body).error, /cross-origin/);
    const rebinding = await curl(["-H", "Host: evil.example", `http://127.0.0.1:${port}/api/v1/stats`]);
    assert.equal(rebinding.status, 403);
    assert.equal((await curl(["-X", "POST", `http://127.0.0.1:${port}/logout`])).status, 200);
  });
});

describe(`admin with credentials on ${runtime.name}`, () => {
  const credentials = async (extra: Record<string, unknown> = {}) => ({
    username: "ops",
    password_hash: await hashPassword("s3cret pass", 1000),
    token: TOKEN,
    hosts: ["sluice.test"],
    ...extra,
  });

  test("no credentials: 401 with a Basic challenge, the login page for a browser, 401 before 404", async () => {
    const { port } = await start(await credentials());
    const api = await request(port, "/api/v1/stats");
    assert.equal(api.status, 401);
    assert.equal(api.headers["www-authenticate"], 'Basic realm="sluice"');
    assert.deepEqual(json(api), { error: "authentication required" });
    const page = await request(port, "/api/v1/stats?format=csv", { headers: HTML });
    assert.equal(page.status, 302);
    assert.equal(page.headers.location, "/login?next=%2Fapi%2Fv1%2Fstats%3Fformat%3Dcsv");
    assert.equal((await request(port, "/nope")).status, 401, "unknown paths do not tell what exists");
    assert.equal((await request(port, "/nope", { method: "POST" })).status, 401);
    assert.equal((await request(port, "/healthz")).status, 200);
    assert.equal((await request(port, "/metrics")).status, 401);
    assert.equal((await request(port, "/api/v1/csrf")).status, 401);
    // A listed name is accepted as a Host (and still needs credentials); an unlisted one is refused first.
    assert.equal((await request(port, "/api/v1/stats", { headers: { host: "sluice.test:9090" } })).status, 401);
    assert.equal((await request(port, "/api/v1/stats", { headers: { host: "other.test" } })).status, 403);
  });

  test("the login form: a session cookie with the right attributes, CSRF on POSTs, logout", async () => {
    const { port, events } = await start(await credentials());
    const origin = `http://127.0.0.1:${port}`;
    const page = await request(port, "/login?next=%2Fapi%2Fv1%2Fstats", { headers: HTML });
    assert.equal(page.status, 200);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.match(String(page.headers["content-security-policy"]), /frame-ancestors 'none'/);
    assert.match(page.body, /<form method="post" action="\/login">/);
    assert.match(page.body, /name="next" value="\/api\/v1\/stats"/);
    const csrf = page.body.match(/name="csrf" value="([^"]+)"/)![1];

    // The browser posts the form from the page: Origin and Sec-Fetch-Site as a browser sends them.
    const browser = { origin, "sec-fetch-site": "same-origin", ...HTML };
    const noToken = await request(port, "/login", form({ username: "ops", password: "s3cret pass" }, browser));
    assert.equal(noToken.status, 403, "a browser's login post needs the page's token");
    const wrong = await request(port, "/login", form({ username: "ops", password: "nope", csrf }, browser));
    assert.equal(wrong.status, 401);
    assert.match(wrong.body, /Wrong username or password/);
    const ok = await request(
      port,
      "/login",
      form({ username: "ops", password: "s3cret pass", csrf, next: "/api/v1/stats" }, browser),
    );
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.location, "/api/v1/stats");
    const setCookie = ok.headers["set-cookie"]![0];
    assert.match(setCookie, /^sluice_session=[A-Za-z0-9_-]{43};/);
    for (const attribute of ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=86400"]) {
      assert.ok(setCookie.split("; ").includes(attribute), `${attribute} in ${setCookie}`);
    }
    const cookie = cookieOf(ok);
    assert.equal((await request(port, "/api/v1/stats", { headers: { cookie } })).status, 200);

    const bare = await request(port, "/logout", { method: "POST", headers: { cookie } });
    assert.equal(bare.status, 403, "a cookie alone never changes anything");
    assert.match(json(bare).error, /CSRF/);
    const anonymousToken = await request(port, "/logout", {
      method: "POST",
      headers: { cookie, "x-csrf-token": csrf },
    });
    assert.equal(anonymousToken.status, 403, "the token is the session's own");
    const { token } = json(await request(port, "/api/v1/csrf", { headers: { cookie } }));
    const out = await request(port, "/logout", { method: "POST", headers: { cookie, "x-csrf-token": token, origin } });
    assert.equal(out.status, 200);
    assert.match(out.headers["set-cookie"]![0], /^sluice_session=; Max-Age=0;/);
    assert.equal((await request(port, "/api/v1/stats", { headers: { cookie } })).status, 401, "the session is gone");

    assert.deepEqual(events("admin.login").map((e) => [e.result, e.method, e.username]), [
      ["failed", "form", "ops"],
      ["ok", "form", "ops"],
    ]);
    const logout = events("admin.action").filter((e) => e.path === "/logout");
    assert.deepEqual(logout.map((e) => [e.who, e.status]), [["ops", 403], ["ops", 403], ["ops", 200]]);
  });

  test("next= is limited to local paths", async () => {
    const { port } = await start(await credentials());
    for (
      const [next, location] of [["//evil.example/", "/"], ["https://evil.example/", "/"], ["/metrics", "/metrics"]]
    ) {
      const reply = await request(port, "/login", form({ username: "ops", password: "s3cret pass", next }));
      assert.deepEqual([reply.status, reply.headers.location], [303, location], next);
    }
  });

  test("a login form over 64 KiB is refused before it is read", async () => {
    const { port } = await start(await credentials());
    const big = await request(port, "/login", form({ username: "ops", password: "x".repeat(70_000) }));
    assert.equal(big.status, 413);
    assert.match(json(big).error, /Content-Length of at most 65536 bytes/);
  });

  test("Basic and bearer: right ones pass, wrong ones are 401; a POST from a script needs no CSRF token", async () => {
    const { port, events } = await start(await credentials());
    const get = (authorization: string) => request(port, "/api/v1/stats", { headers: { authorization } });
    assert.equal((await get(basic("ops", "s3cret pass"))).status, 200);
    assert.equal((await get(basic("ops", "s3cret pass"))).status, 200, "cached");
    assert.equal((await get(`Bearer ${TOKEN}`)).status, 200);
    for (
      const bad of [basic("ops", "wrong"), basic("root", "s3cret pass"), `Bearer ${TOKEN}x`, "Digest x", "Basic !!"]
    ) {
      const reply = await get(bad);
      assert.equal(reply.status, 401, bad);
      assert.equal(reply.headers["www-authenticate"], 'Basic realm="sluice"');
    }
    const post = await request(port, "/logout", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(post.status, 200);
    const fromPage = await request(port, "/logout", {
      method: "POST",
      headers: { authorization: basic("ops", "s3cret pass"), origin: `http://127.0.0.1:${port}` },
    });
    assert.equal(fromPage.status, 403, "Basic sent by a browser needs the token like a cookie");
    const logins = events("admin.login").map((e) => [e.result, e.method, e.username]);
    assert.deepEqual(logins, [["ok", "basic", "ops"], ["failed", "basic", "ops"], ["failed", "basic", "root"]]);
    assert.deepEqual(events("admin.action").map((e) => [e.who, e.status]), [["token", 200], ["ops", 403]]);
  });

  test("curl with -u user:password and with a bearer token", async () => {
    const { port } = await start(await credentials());
    const url = `http://127.0.0.1:${port}/api/v1/stats`;
    const withBasic = await curl(["-u", "ops:s3cret pass", url]);
    assert.equal(withBasic.status, 200);
    assert.ok(JSON.parse(withBasic.body).listeners, "the stats");
    assert.equal((await curl(["-H", `Authorization: Bearer ${TOKEN}`, url])).status, 200);
    assert.equal((await curl(["-u", "ops:wrong", url])).status, 401);
    assert.equal((await curl([url])).status, 401);
  });

  test("/metrics is public with public_metrics; the rest is not", async () => {
    const { port } = await start(await credentials({ public_metrics: true }));
    const metrics = await request(port, "/metrics");
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^# HELP/m);
    assert.equal((await request(port, "/api/v1/stats")).status, 401);
  });

  test("failed logins are rate-limited per address: the sixth is a 429 with Retry-After", async () => {
    const { port, events } = await start(await credentials());
    for (let i = 0; i < 5; i++) {
      const reply = await request(port, "/login", form({ username: "ops", password: `guess${i}` }));
      assert.equal(reply.status, 401, `attempt ${i + 1}`);
    }
    const limited = await request(port, "/login", form({ username: "ops", password: "s3cret pass" }));
    assert.equal(limited.status, 429, "even the right password, until the window ends");
    const retryAfter = Number(limited.headers["retry-after"]);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.match(json(limited).error, /too many failed logins/);
    const page = await request(port, "/login", form({ username: "ops", password: "x" }, HTML));
    assert.equal(page.status, 429);
    assert.match(page.body, /Too many failed logins/);
    const viaBasic = await request(port, "/api/v1/stats", { headers: { authorization: basic("ops", "s3cret pass") } });
    assert.equal(viaBasic.status, 429, "Basic shares the limit");
    const viaToken = await request(port, "/api/v1/stats", { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(viaToken.status, 429, "a locked-out client cannot test tokens either");
    assert.equal(events("admin.login").filter((e) => e.result === "failed").length, 5);
  });
});

describe(`admin sessions on a manual clock on ${runtime.name}`, () => {
  test("a session ends after 24 hours on the server, whatever the browser keeps", async () => {
    const clock = new ManualClock();
    const loaded = loadObject({
      admin: { username: "ops", password_hash: await hashPassword("pw", 1000) },
      listeners: [{ listen: "127.0.0.1:7000", backends: [{ address: "10.0.0.5:80" }] }],
    });
    assert.ok(loaded.ok);
    const app = createAdminApp({
      collector: new Collector({ version: "test", runtime: "test", runtimeVersion: "0" }, clock),
      states: new StateBook(),
      clock,
      connections: () => Promise.resolve({ live_total: 0, matched: 0, live: [], recent: [] }),
      admin: loaded.config.admin,
    });
    const server = await runtime.http.serve({ host: "127.0.0.1", port: 0 }, app.fetch);
    servers.push(server);
    const { port } = server.address;
    const cookie = cookieOf(await request(port, "/login", form({ username: "ops", password: "pw" })));
    assert.ok(cookie);
    clock.advance(24 * 3600_000 - 1);
    assert.equal((await request(port, "/api/v1/stats", { headers: { cookie } })).status, 200);
    clock.advance(1);
    assert.equal((await request(port, "/api/v1/stats", { headers: { cookie } })).status, 401);
    assert.equal((await request(port, "/api/v1/stats", { headers: { cookie, ...HTML } })).status, 302);
  });
});

describe(`admin configuration and hash-password through the CLI on ${runtime.name}`, () => {
  const file = (admin: string) =>
    tempFile(
      "sluice.toml",
      `[admin]\n${admin}\n[[listeners]]\nlisten = "127.0.0.1:7000"\nbackends = [{ address = "10.0.0.5:80" }]\n`,
    );

  test("--validate names the admin key of each mistake; WEB_USERNAME and WEB_PASSWORD count as credentials", async () => {
    const open = file(`listen = "0.0.0.0:9090"`);
    const refused = await cli(["-c", open, "--validate"], { env: { WEB_USERNAME: "", WEB_PASSWORD: "" } });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /admin\.listen: 0\.0\.0\.0 is not a loopback address/);
    const withEnv = await cli(["-c", open, "--validate"], { env: { WEB_USERNAME: "ops", WEB_PASSWORD: "pw" } });
    assert.equal(withEnv.code, 0, withEnv.stderr);
    const quick = await cli(["--validate", "127.0.0.1:7001", "10.0.0.5:80", "--admin", "0.0.0.0:9090"], {
      env: { WEB_USERNAME: "", WEB_PASSWORD: "" },
    });
    assert.equal(quick.code, 1);
    assert.match(quick.stderr, /admin\.listen: 0\.0\.0\.0 is not a loopback address/);
    const bad = await cli(["-c", file(`username = "ops"\npassword_hash = "hunter2"\ntoken = "short"`), "--validate"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /admin\.password_hash: not a password hash/);
    assert.match(bad.stderr, /admin\.token: must be 16 to 1024 characters, got 5/);
    assert.ok(!bad.stderr.includes("hunter2"), "the secret is not printed");
  });

  test("hash-password prints a hash a running instance accepts; an empty password is refused", async () => {
    const r = await cli(["hash-password"], { stdin: "s3cret pass\n" });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^pbkdf2-sha256\$600000\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+\n$/);
    const hash = r.stdout.trim();
    assert.equal(await verifyPassword("s3cret pass", hash), true, "one trailing newline is not part of it");
    const { port } = await start({ listen: "127.0.0.1:0", username: "ops", password_hash: hash });
    const headers = { authorization: basic("ops", "s3cret pass") };
    assert.equal((await request(port, "/api/v1/stats", { headers })).status, 200);

    const empty = await cli(["hash-password"], { stdin: "\n" });
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /no password on standard input/);
    const extra = await cli(["hash-password", "pw"]);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /reads the password from standard input/);
  });

  test("WEB_USERNAME and WEB_PASSWORD: the plain password is hashed at start and checked like a hash", async () => {
    const { port } = await start({}, { credentials: { username: "env-user", password: "env pass" } });
    const get = (user: string, password: string) =>
      request(port, "/api/v1/stats", { headers: { authorization: basic(user, password) } });
    assert.equal((await get("env-user", "env pass")).status, 200);
    assert.equal((await get("env-user", "env pas")).status, 401);
  });
});
