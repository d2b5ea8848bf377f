/**
 * The admin server's safety logic without sockets: password hashes, the
 * constant-time compare, the login limiter, sessions and CSRF tokens on a
 * manual clock, the Host and Origin rules, redaction, and the `[admin]`
 * configuration checks.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CsrfTokens } from "../src/admin/csrf.ts";
import { clientKey, LoginLimiter } from "../src/admin/limiter.ts";
import { crossOrigin, fromBrowser, hostAccepted, safeNext } from "../src/admin/origin.ts";
import {
  constantTimeEqual,
  constantTimeEqualText,
  DEFAULT_ITERATIONS,
  hashPassword,
  verifyPassword,
} from "../src/admin/password.ts";
import { SESSION_TTL_MS, SessionStore } from "../src/admin/sessions.ts";
import { isLoopbackHost } from "../src/config/admin.ts";
import { formatIssue, loadObject, type LoadOptions } from "../src/config/load.ts";
import { parsePasswordHash } from "../src/config/password-hash.ts";
import { redact } from "../src/config/redact.ts";
import { ManualClock } from "./helpers/fakes.ts";

/** A fast hash for tests: the iteration count is read back from the string, so verification stays fast too. */
const quickHash = (password: string) => hashPassword(password, 1000);

describe("password hashes", () => {
  test("a hash verifies its own password and no other", async () => {
    const line = await quickHash("correct horse");
    assert.match(line, /^pbkdf2-sha256\$1000\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    assert.equal(await verifyPassword("correct horse", line), true);
    assert.equal(await verifyPassword("correct horsE", line), false);
    assert.equal(await verifyPassword("", line), false);
    assert.notEqual(await quickHash("correct horse"), line, "a fresh salt each time");
  });

  test("the default is 600,000 iterations and a 16-byte salt", async () => {
    const line = await hashPassword("pw");
    const parsed = parsePasswordHash(line);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.iterations, DEFAULT_ITERATIONS);
    assert.equal(DEFAULT_ITERATIONS, 600_000);
    assert.equal(parsed.value.salt.length, 16);
    assert.equal(parsed.value.hash.length, 32);
  });

  test("a malformed hash is refused with a reason that does not quote it, and verifies nothing", async () => {
    const good = await quickHash("pw");
    const [, iterations, salt, hash] = good.split("$");
    for (
      const [bad, reason] of [
        ["", /not a password hash/],
        ["plain-text-password", /not a password hash/],
        [`bcrypt$${iterations}$${salt}$${hash}`, /not a password hash/],
        [`pbkdf2-sha256$${iterations}$${salt}`, /not a password hash/],
        [`pbkdf2-sha256$many$${salt}$${hash}`, /iteration count is not a number/],
        [`pbkdf2-sha256$10$${salt}$${hash}`, /iteration count must be 1000 to 10000000/],
        [`pbkdf2-sha256$${iterations}$!!$${hash}`, /salt must be at least 8 bytes/],
        [`pbkdf2-sha256$${iterations}$${salt}$${hash.slice(0, 20)}`, /hash must be 32 bytes/],
      ] as const
    ) {
      const parsed = parsePasswordHash(bad);
      assert.equal(parsed.ok, false, bad);
      if (!parsed.ok) {
        assert.match(parsed.reason, reason, bad);
        if (bad.length > 3) assert.ok(!parsed.reason.includes(bad), "the reason quotes the hash");
      }
      assert.equal(await verifyPassword("pw", bad), false);
    }
  });

  test("the constant-time compare is a correct equality on bytes and text", () => {
    const b = (...bytes: number[]) => Uint8Array.from(bytes);
    assert.equal(constantTimeEqual(b(1, 2, 3), b(1, 2, 3)), true);
    assert.equal(constantTimeEqual(b(), b()), true);
    assert.equal(constantTimeEqual(b(1, 2, 3), b(1, 2, 4)), false);
    assert.equal(constantTimeEqual(b(1, 2, 3), b(9, 2, 3)), false);
    assert.equal(constantTimeEqual(b(1, 2), b(1, 2, 0)), false, "a prefix padded with zeros is not equal");
    assert.equal(constantTimeEqual(b(), b(0)), false);
    assert.equal(constantTimeEqualText("tøken", "tøken"), true);
    assert.equal(constantTimeEqualText("token", "tokem"), false);
    assert.equal(constantTimeEqualText("token", "token2"), false);
  });
});

describe("login limiter", () => {
  test("five failures a minute, then the rest of the window to wait", () => {
    const clock = new ManualClock();
    const limiter = new LoginLimiter();
    for (let i = 0; i < 5; i++) assert.equal(limiter.attempt("192.0.2.1", clock.now()), 0, `attempt ${i + 1}`);
    assert.equal(limiter.attempt("192.0.2.1", clock.now()), 60_000);
    assert.equal(limiter.wait("192.0.2.1", clock.now()), 60_000);
    assert.equal(limiter.attempt("192.0.2.2", clock.now()), 0, "another address is not held back");
    clock.advance(45_000);
    assert.equal(limiter.attempt("192.0.2.1", clock.now()), 15_000, "refusals do not extend the window");
    clock.advance(15_000);
    assert.equal(limiter.wait("192.0.2.1", clock.now()), 0);
    assert.equal(limiter.attempt("192.0.2.1", clock.now()), 0, "a new window");
  });

  test("a success forgets the address's failures", () => {
    const limiter = new LoginLimiter({ maxFailures: 2 });
    limiter.attempt("192.0.2.1", 0);
    limiter.attempt("192.0.2.1", 0);
    assert.ok(limiter.wait("192.0.2.1", 0) > 0);
    limiter.succeeded("192.0.2.1");
    assert.equal(limiter.attempt("192.0.2.1", 0), 0);
  });

  test("the table is bounded: the oldest window is forgotten first", () => {
    const limiter = new LoginLimiter({ maxFailures: 1, maxClients: 100 });
    for (let i = 0; i < 10_000; i++) limiter.attempt(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i);
    assert.equal(limiter.size, 100);
    assert.ok(limiter.wait("10.0.39.15", 10_000) > 0, "the newest are kept");
    assert.equal(limiter.wait("10.0.0.0", 10_000), 0, "the oldest made room");
  });

  test("an IPv6 client counts as its /64; IPv4-mapped as IPv4", () => {
    assert.equal(clientKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    assert.equal(clientKey("::ffff:192.0.2.7"), "192.0.2.7");
    const limiter = new LoginLimiter({ maxFailures: 2 });
    limiter.attempt("2001:db8:1:2::1", 0);
    limiter.attempt("2001:db8:1:2::2", 0);
    assert.ok(limiter.wait("2001:db8:1:2:ffff::9", 0) > 0);
    assert.equal(limiter.wait("2001:db8:1:3::1", 0), 0);
  });
});

describe("sessions", () => {
  test("a session lives a day on the server's clock, then is gone", () => {
    const clock = new ManualClock();
    const store = new SessionStore();
    const session = store.create("ops", clock.now());
    assert.match(session.id, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(store.get(session.id, clock.now())?.username, "ops");
    clock.advance(SESSION_TTL_MS - 1);
    assert.ok(store.get(session.id, clock.now()));
    clock.advance(1);
    assert.equal(store.get(session.id, clock.now()), undefined);
    assert.equal(store.size, 0, "an expired session is removed when seen");
  });

  test("logout ends a session; ids are not guessable from each other", () => {
    const store = new SessionStore();
    const a = store.create("ops", 0);
    const b = store.create("ops", 0);
    assert.notEqual(a.id, b.id);
    store.delete(a.id);
    assert.equal(store.get(a.id, 0), undefined);
    assert.ok(store.get(b.id, 0));
  });

  test("the number of sessions is bounded: expired ones go first, then the oldest", () => {
    const store = new SessionStore({ max: 3, ttlMs: 1000 });
    const old = store.create("a", 0);
    const b = store.create("b", 500);
    const c = store.create("c", 600);
    store.create("d", 1200); // `old` has expired: it makes room
    assert.equal(store.size, 3);
    assert.equal(store.get(old.id, 1200), undefined);
    store.create("e", 1300); // nothing expired: the oldest (b) goes
    assert.equal(store.get(b.id, 1300), undefined);
    assert.ok(store.get(c.id, 1300));
    for (let i = 0; i < 1000; i++) store.create("f", 1400);
    assert.equal(store.size, 3);
  });
});

describe("CSRF tokens", () => {
  test("a token is valid for its subject only, and for this process only", async () => {
    const csrf = new CsrfTokens();
    const token = await csrf.token("session-a");
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await csrf.token("session-a"), token, "no storage: the same subject gets the same token");
    assert.equal(await csrf.verify("session-a", token), true);
    assert.equal(await csrf.verify("session-b", token), false);
    assert.equal(await csrf.verify("anonymous", token), false);
    assert.equal(await csrf.verify("session-a", ""), false);
    assert.equal(await csrf.verify("session-a", token.slice(0, -1) + (token.endsWith("A") ? "B" : "A")), false);
    assert.equal(await new CsrfTokens().verify("session-a", token), false, "another process's secret");
  });
});

describe("Host and Origin rules", () => {
  test("IP literals and localhost on any port, listed names; nothing else", () => {
    const hosts = ["sluice.example.com", "ops.example.com:8443"];
    for (
      const host of [
        "127.0.0.1",
        "127.0.0.1:9090",
        "10.1.2.3:80",
        "[::1]",
        "[::1]:9090",
        "[2001:db8::1]:1",
        "localhost",
        "LOCALHOST:9090",
        "sluice.example.com",
        "Sluice.Example.com:9090",
        "ops.example.com:8443",
      ]
    ) assert.equal(hostAccepted(host, hosts), true, host);
    for (
      const host of [
        undefined,
        "",
        "evil.example",
        "evil.example:9090",
        "localhost.evil.example",
        "127.0.0.1.evil.example",
        "ops.example.com",
        "ops.example.com:9090",
        "::1",
        "[::1",
        "[evil]:80",
        "127.0.0.1:80:80",
        "sluice.example.com.evil.example",
      ]
    ) assert.equal(hostAccepted(host, hosts), false, String(host));
  });

  test("a mutation is cross-origin when Origin is not http://Host or Sec-Fetch-Site is not same-origin/none", () => {
    const host = "127.0.0.1:9090";
    assert.equal(crossOrigin({ host }), undefined, "curl: neither header");
    assert.equal(crossOrigin({ host, origin: "http://127.0.0.1:9090" }), undefined);
    assert.equal(crossOrigin({ host, origin: "http://127.0.0.1:9090", secFetchSite: "same-origin" }), undefined);
    assert.equal(crossOrigin({ host, secFetchSite: "none" }), undefined, "typed into the address bar");
    assert.match(crossOrigin({ host, origin: "http://evil.example" })!, /Origin http:\/\/evil\.example/);
    assert.match(crossOrigin({ host, origin: "null" })!, /cross-origin/);
    assert.match(crossOrigin({ host, origin: "https://127.0.0.1:9090" })!, /cross-origin/);
    assert.match(crossOrigin({ host, origin: "http://127.0.0.1:8080" })!, /cross-origin/, "another port");
    assert.match(crossOrigin({ host, secFetchSite: "cross-site" })!, /Sec-Fetch-Site is cross-site/);
    assert.match(crossOrigin({ host, secFetchSite: "same-site" })!, /same-site/);
    assert.equal(fromBrowser({ host }), false);
    assert.equal(fromBrowser({ host, origin: "http://127.0.0.1:9090" }), true);
    assert.equal(fromBrowser({ host, secFetchSite: "none" }), true);
  });

  test("after login, only a path on this server", () => {
    assert.equal(safeNext("/api/v1/stats?format=csv"), "/api/v1/stats?format=csv");
    assert.equal(safeNext("/"), "/");
    // Dot segments collapse into a protocol-relative URL after parsing.
    assert.equal(safeNext("/.//evil.example"), "/");
    assert.equal(safeNext("/..//evil.example/x"), "/");
    for (
      const next of [
        undefined,
        "",
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil",
        "/\t/evil.example",
      ]
    ) {
      assert.equal(safeNext(next), "/", String(next));
    }
  });
});

describe("[admin] configuration", () => {
  const listeners = [{ listen: "127.0.0.1:7000", backends: [{ address: "10.0.0.5:80" }] }];
  const load = (admin: Record<string, unknown>, options: LoadOptions = {}) => loadObject({ admin, listeners }, options);
  const issues = (admin: Record<string, unknown>, options: LoadOptions = {}) => {
    const r = load(admin, options);
    assert.equal(r.ok, false, "expected the document to be refused");
    return r.ok ? [] : r.issues.map((i) => formatIssue("f", i).slice(3));
  };
  const TOKEN = "0123456789abcdef-token";

  test("without credentials the admin server may only listen on loopback", async () => {
    for (const listen of ["127.0.0.1:9090", "127.0.0.2:9090", "[::1]:9090", "localhost:9090", ":9090"]) {
      const r = load({ listen });
      assert.ok(r.ok, listen);
      assert.equal(r.config.admin?.auth, null);
    }
    for (const listen of ["0.0.0.0:9090", "[::]:9090", "192.0.2.1:9090", "admin.example.com:9090"]) {
      const [message] = issues({ listen });
      assert.match(message, /^admin\.listen: \S+ is not a loopback address, and the admin server has no credentials/);
    }
    assert.ok(load({ listen: "0.0.0.0:9090", enabled: false }).ok, "an admin server that is off is not checked");
    assert.ok(load({ listen: "0.0.0.0:9090", token: TOKEN }).ok);
    assert.ok(load({ listen: "0.0.0.0:9090", username: "ops", password_hash: await quickHash("pw") }).ok);
    assert.ok(
      load({ listen: "0.0.0.0:9090" }, { credentials: { username: "ops", password: "pw" } }).ok,
      "WEB_USERNAME and WEB_PASSWORD count",
    );
    assert.equal(isLoopbackHost("::ffff:127.0.0.1"), true);
    assert.equal(isLoopbackHost("::"), false);
  });

  test("credentials are normalized; the environment's override the file's", async () => {
    const hash = await quickHash("pw");
    const file = load({
      username: "ops",
      password_hash: hash,
      token: TOKEN,
      public_metrics: true,
      hosts: ["A.example"],
    });
    assert.ok(file.ok);
    assert.deepEqual(file.config.admin, {
      listen: { host: "127.0.0.1", port: 9090 },
      auth: { username: "ops", passwordHash: hash, password: null, token: TOKEN },
      publicMetrics: true,
      hosts: ["a.example"],
    });
    const env = load({ username: "ops", password_hash: hash }, { credentials: { username: "root", password: "pw2" } });
    assert.ok(env.ok);
    assert.deepEqual(env.config.admin?.auth, { username: "root", passwordHash: null, password: "pw2", token: null });
    const tokenOnly = load({ token: TOKEN });
    assert.ok(tokenOnly.ok);
    assert.deepEqual(tokenOnly.config.admin?.auth, {
      username: null,
      passwordHash: null,
      password: null,
      token: TOKEN,
    });
  });

  test("bad credentials are errors naming the key, without quoting the secret", async () => {
    const secret = "pbkdf2-sha256$600000$c2VjcmV0c2FsdA==$c2VjcmV0";
    const [hashIssue] = issues({ username: "ops", password_hash: secret });
    assert.match(hashIssue, /^admin\.password_hash: the hash must be 32 bytes of base64; expected pbkdf2-sha256\$/);
    assert.ok(!hashIssue.includes(secret));
    assert.deepEqual(issues({ token: "short-secret" }), ["admin.token: must be 16 to 1024 characters, got 12"]);
    assert.deepEqual(issues({ token: "a token with spaces in it" }), [
      "admin.token: must be printable ASCII without spaces",
    ]);
    assert.deepEqual(issues({ token: 1234567890123456 }), ["admin.token: expected a string"]);
    assert.deepEqual(issues({ username: "ops" }), [
      "admin.password_hash: is required with a username (or set WEB_PASSWORD)",
    ]);
    assert.deepEqual(issues({ password_hash: await quickHash("pw") }), [
      "admin.username: is required with admin.password_hash (or set WEB_USERNAME)",
    ]);
    assert.deepEqual(issues({}, { credentials: { password: "pw" } }), [
      "admin.username: is required with WEB_PASSWORD (or set WEB_USERNAME)",
    ]);
    assert.deepEqual(issues({ username: "o:ps", password_hash: await quickHash("pw") }), [
      "admin.username: must be 1-64 characters, without ':' or control characters",
    ]);
    assert.deepEqual(issues({ hosts: ["ok.example", "bad host"] }), [
      'admin.hosts[1]: expected a host name or "name:port"',
    ]);
    assert.deepEqual(issues({ public_metrics: "yes" }), ['admin.public_metrics: expected a boolean, got "yes"']);
  });

  test("redact() hides password_hash and token in a copy and leaves the rest", () => {
    const document = { admin: { username: "ops", password_hash: "pbkdf2-sha256$1$x$y", token: TOKEN }, workers: 2 };
    assert.deepEqual(redact(document), {
      admin: { username: "ops", password_hash: "<redacted>", token: "<redacted>" },
      workers: 2,
    });
    assert.equal(document.admin.token, TOKEN, "the input is not changed");
    assert.deepEqual(redact({ admin: { listen: "127.0.0.1:9090" } }), { admin: { listen: "127.0.0.1:9090" } });
    assert.deepEqual(redact({ workers: 1 }), { workers: 1 });
  });
});
