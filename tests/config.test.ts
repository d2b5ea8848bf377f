/** Configuration: addresses, durations, the TOML schema and its messages, arguments, sources. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseArgs } from "../src/cli.ts";
import { parseDuration } from "../src/config/duration.ts";
import { formatIssue, loadToml } from "../src/config/load.ts";
import { loadSource } from "../src/config/sources.ts";
import { formatAddress, isIPv6, parseAddress } from "../src/net/address.ts";
import { listedOrNone } from "../src/runtime/_address.ts";
import { selectRuntime } from "../src/runtime/select.ts";

/** Messages of a TOML document that must fail, as `path: message`. */
function errors(toml: string): string[] {
  const r = loadToml(toml);
  assert.equal(r.ok, false, "expected the document to be refused");
  return r.ok ? [] : r.issues.map((i) => formatIssue("f", i).slice(3));
}

const minimal = `[[listeners]]\nlisten = "127.0.0.1:7000"\nbackends = [{ address = "10.0.0.5:80" }]\n`;

describe("addresses", () => {
  test("parseAddress() reads host:port, [v6]:port, and :port or port with a default host", () => {
    assert.deepEqual(parseAddress("10.0.0.5:80"), { ok: true, value: { host: "10.0.0.5", port: 80 } });
    assert.deepEqual(parseAddress("[::1]:8080"), { ok: true, value: { host: "::1", port: 8080 } });
    assert.deepEqual(parseAddress("db.internal:5432"), { ok: true, value: { host: "db.internal", port: 5432 } });
    assert.deepEqual(parseAddress(":8080", { defaultHost: "0.0.0.0" }), {
      ok: true,
      value: { host: "0.0.0.0", port: 8080 },
    });
    assert.deepEqual(parseAddress("8080", { defaultHost: "0.0.0.0" }), {
      ok: true,
      value: { host: "0.0.0.0", port: 8080 },
    });
    assert.deepEqual(parseAddress("127.0.0.1:0", { allowPortZero: true }), {
      ok: true,
      value: { host: "127.0.0.1", port: 0 },
    });
  });

  test("parseAddress() explains what is wrong", () => {
    const reason = (text: string) => {
      const r = parseAddress(text);
      return r.ok ? "ok" : r.reason;
    };
    assert.match(reason("10.0.0.5"), /expected "host:port"/);
    assert.match(reason("10.0.0.5:0"), /port 0 out of range 1-65535/);
    assert.match(reason("10.0.0.5:70000"), /out of range/);
    assert.match(reason("10.0.0.5:http"), /invalid port/);
    assert.match(reason("bad_host!:80"), /invalid host "bad_host!"/);
    assert.match(reason("[::g]:80"), /invalid IPv6 address/);
    assert.match(reason("::1:80"), /expected "host:port"/);
  });

  test("isIPv6() accepts compressed and mapped forms, rejects malformed ones", () => {
    for (const ok of ["::", "::1", "2001:db8::1", "fe80::1:2:3:4", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8"]) {
      assert.ok(isIPv6(ok), ok);
    }
    for (const bad of ["1.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "::1.2.3"]) assert.ok(!isIPv6(bad), bad);
    assert.equal(formatAddress({ host: "::1", port: 80 }), "[::1]:80");
  });
});

describe("durations", () => {
  test("parseDuration() reads units, combinations and bare seconds", () => {
    const ms = (v: string | number) => {
      const r = parseDuration(v);
      return r.ok ? r.value : r.reason;
    };
    assert.equal(ms("250ms"), 250);
    assert.equal(ms("5s"), 5000);
    assert.equal(ms("1m30s"), 90_000);
    assert.equal(ms("1.5h"), 5_400_000);
    assert.equal(ms(2.5), 2500);
    assert.equal(ms(0), 0);
    assert.match(String(ms("5 min")), /expected a duration/);
    assert.match(String(ms("")), /expected a duration/);
    assert.match(String(ms(-1)), /non-negative/);
  });

  test('"0" is 0 like 0 and "0s"; days are read; text that is a bare number means seconds', () => {
    const ms = (v: string | number) => {
      const r = parseDuration(v);
      return r.ok ? r.value : r.reason;
    };
    assert.deepEqual([ms("0"), ms(0), ms("0s"), ms("1d"), ms("1d12h"), ms("2.5")], [
      0,
      0,
      0,
      86_400_000,
      129_600_000,
      2500,
    ]);
  });

  test("a duration that rounds to 0 ms but is not 0 is refused, not silently turned off", () => {
    for (const v of [0.0001, "0.0001", "0.4ms", "0.0001s"]) {
      const r = parseDuration(v);
      assert.equal(r.ok, false, String(v));
      assert.match((r as { reason: string }).reason, /rounds to 0ms; use 0 to turn it off/);
    }
    assert.deepEqual(parseDuration("0.5ms"), { ok: true, value: 1 });
  });

  test("a duration longer than a timer can hold (2^31-1 ms) is refused", () => {
    assert.deepEqual(parseDuration("24d"), { ok: true, value: 24 * 86_400_000 });
    for (const v of ["999999999h", "25d", 2_147_484]) {
      const r = parseDuration(v);
      assert.equal(r.ok, false, String(v));
      assert.match((r as { reason: string }).reason, /at most 2147483647ms/);
    }
  });

  test("a config file reports a bad duration at its key path", () => {
    const r = loadToml(
      '[[listeners]]\nlisten = ":0"\nidle_timeout = "0.0001"\nbackends = [{ address = "10.0.0.5:80" }]',
    );
    assert.equal(r.ok, false);
    assert.match(
      formatIssue("f", (r as { issues: { path: string; message: string }[] }).issues[0]),
      /^f: listeners\[0\]\.idle_timeout: "0.0001" rounds to 0ms/,
    );
  });
});

describe("the configuration file", () => {
  test("a minimal file gets every default, normalized", () => {
    const r = loadToml(minimal);
    assert.ok(r.ok);
    assert.deepEqual(r.config, {
      drainTimeoutMs: 30_000,
      workers: 1,
      log: { level: "info", format: "text" },
      admin: { listen: { host: "127.0.0.1", port: 9090 }, auth: null, publicMetrics: false, hosts: [] },
      anonymizeIps: false,
      stats: { stateFile: null },
      listeners: [{
        key: "tcp/127.0.0.1:7000",
        name: "127.0.0.1:7000",
        protocol: "tcp",
        listen: { host: "127.0.0.1", port: 7000 },
        balance: "weighted",
        connectTimeoutMs: 5000,
        idleTimeoutMs: 600_000,
        halfCloseTimeoutMs: 30_000,
        retries: 2,
        maxConnections: 4096,
        maxSessions: 10_000,
        responses: 0,
        requests: 0,
        health: null,
        maxFails: 1,
        failTimeoutMs: 10_000,
        backends: [{ address: { host: "10.0.0.5", port: 80 }, weight: 1, name: "10.0.0.5:80" }],
      }],
    });
    assert.deepEqual(r.warnings, []);
  });

  test("unknown keys are refused, naming the keys allowed there", () => {
    assert.deepEqual(
      errors(minimal.replace(`{ address = "10.0.0.5:80" }`, `{ address = "10.0.0.5:80", wieght = 2 }`)),
      [
        "listeners[0].backends[0].wieght: unknown key; expected one of: address, weight, name",
      ],
    );
    assert.deepEqual(errors(`lsiteners = []\n` + minimal), [
      "lsiteners: unknown key; expected one of: drain_timeout, workers, log, admin, anonymize_ips, stats, listeners",
    ]);
  });

  test("wrong types name the key, what was expected and what came", () => {
    assert.deepEqual(errors(minimal + `retries = "2"\n`), [`listeners[0].retries: expected a number, got "2"`]);
    assert.deepEqual(errors(`[log]\nlevel = "loud"\n` + minimal), [
      `log.level: expected one of "debug", "info", "warn", "error"; got "loud"`,
    ]);
    assert.deepEqual(
      errors(
        minimal.replace(
          `listen = "127.0.0.1:7000"`,
          `listen = "127.0.0.1:7000"\nretries = 1.5\nconnect_timeout = "soon"`,
        ),
      ),
      [
        `listeners[0].connect_timeout: expected a duration like "500ms", "5s", "1m30s", "1d" or a number of seconds, got "soon"`,
        `listeners[0].retries: expected a whole number, got 1.5`,
      ],
    );
    assert.deepEqual(errors(`admin = 5\n` + minimal), ["admin: expected a table, got 5"]);
  });

  test("bad addresses and missing keys are refused with their paths", () => {
    assert.deepEqual(errors(`[[listeners]]\nbackends = [{ address = "10.0.0.5" }, {}]\n`), [
      "listeners[0].listen: is required",
      `listeners[0].backends[0].address: expected "host:port", got "10.0.0.5"`,
      "listeners[0].backends[1].address: is required",
    ]);
  });

  test("an empty pool and an empty listener list are refused", () => {
    assert.deepEqual(errors(minimal.replace(`backends = [{ address = "10.0.0.5:80" }]`, "backends = []")), [
      "listeners[0].backends: a listener needs at least one backend",
    ]);
    assert.deepEqual(errors(`listeners = []\n`), ["listeners: at least one listener is needed"]);
  });

  test("duplicate and overlapping addresses, names and backends are refused", () => {
    const doc = [
      `[admin]\nlisten = "127.0.0.1:7000"`,
      `[[listeners]]\nname = "web"\nlisten = "0.0.0.0:7000"\nbackends = [{ address = "a:1" }, { address = "a:1" }]`,
      `[[listeners]]\nname = "web"\nlisten = "127.0.0.1:7001"\nbackends = [{ address = "b:1" }]`,
      `[[listeners]]\nlisten = "127.0.0.1:7001"\nbackends = [{ address = "b:1" }]`,
      `[[listeners]]\nlisten = "127.0.0.1:0"\nbackends = [{ address = "b:1" }]`,
      `[[listeners]]\nlisten = "127.0.0.1:0"\nbackends = [{ address = "b:1" }]`,
    ].join("\n");
    assert.deepEqual(errors(doc), [
      "listeners[0].backends[1].address: duplicate backend a:1 (also backends[0]); raise its weight instead",
      `listeners[1].name: duplicate name "web" (also listeners[0])`,
      "listeners[2].listen: 127.0.0.1:7001 overlaps listeners[1].listen (127.0.0.1:7001)",
      "admin.listen: 127.0.0.1:7000 overlaps listeners[0].listen (0.0.0.0:7000)",
    ]);
  });

  test("the example sluice.toml is valid and warns about nothing", () => {
    const r = loadToml(readFileSync(new URL("../sluice.toml", import.meta.url), "utf8"));
    assert.ok(r.ok, r.ok ? "" : r.issues.map((i) => formatIssue("sluice.toml", i)).join("\n"));
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.config.listeners.map((l) => l.name), ["web", "redis", "dns"]);
  });

  test("a TOML syntax error gives line and column", () => {
    const [message] = errors(`[[listeners]]\nlisten = [\n`);
    assert.match(message, /^line \d+, column \d+: invalid TOML: /);
  });

  test("a TOML syntax error never quotes a secret, and cuts long lines", () => {
    const [message] = errors(
      `[admin]\npassword_hash = "pbkdf2-x"\ntoken = "SECRET-0123456789\nx = "${"y".repeat(5000)}\n`,
    );
    assert.ok(!message.includes("SECRET") && !message.includes("pbkdf2-x"), message);
    assert.match(message, /token = <redacted>/);
    assert.ok(message.length < 1000);
  });

  test("round-robin with weights is allowed but warned about", () => {
    const r = loadToml(
      minimal.replace(`listen = "127.0.0.1:7000"`, `listen = "127.0.0.1:7000"\nbalance = "round-robin"`).replace(
        `"10.0.0.5:80" }`,
        `"10.0.0.5:80", weight = 2 }`,
      ),
    );
    assert.ok(r.ok);
    assert.deepEqual(r.warnings.map((w) => w.path), ["listeners[0].balance"]);
  });
});

describe("UDP and health configuration", () => {
  const issues = (listener: string) => {
    const r = loadToml(`[[listeners]]\nlisten = ":0"\nbackends = [{ address = "10.0.0.5:53" }]\n${listener}`);
    return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
  };

  test("bad UDP and health settings are refused at their key path", () => {
    assert.deepEqual(issues(`protocol = "sctp"`), ['listeners[0].protocol: expected one of "tcp", "udp"; got "sctp"']);
    assert.deepEqual(issues(`protocol = "udp"\nresponses = -1`), [
      "listeners[0].responses: must be at least 0, got -1",
    ]);
    assert.deepEqual(issues(`protocol = "udp"\n[listeners.health]\ntype = "http"`), [
      `listeners[0].health.type: UDP listeners can only use "send_expect" checks, got "http"`,
    ]);
    assert.deepEqual(issues(`[listeners.health]\nrise = 0`), ["listeners[0].health.rise: must be at least 1, got 0"]);
    assert.deepEqual(issues(`protocol = "udp"\n[listeners.health]\nexpect = "x"`), [
      "listeners[0].health.send: is required for UDP checks (a datagram to send)",
    ]);
    assert.deepEqual(issues(`protocol = "udp"\nretries = 1`), [
      "listeners[0].retries: applies to TCP listeners only; this one is udp",
    ]);
    assert.deepEqual(issues(`max_sessions = 5`), [
      "listeners[0].max_sessions: applies to UDP listeners only; this one is tcp",
    ]);
  });

  test("a TCP and a UDP listener may share an address and get distinct default names", () => {
    const r = loadToml(
      `[[listeners]]\nlisten = "127.0.0.1:5300"\nbackends = [{ address = "10.0.0.5:53" }]\n` +
        `[[listeners]]\nprotocol = "udp"\nlisten = "127.0.0.1:5300"\nbackends = [{ address = "10.0.0.5:53" }]`,
    );
    assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
    assert.deepEqual(r.config.listeners.map((l) => [l.key, l.name]), [
      ["tcp/127.0.0.1:5300", "127.0.0.1:5300"],
      ["udp/127.0.0.1:5300", "udp/127.0.0.1:5300"],
    ]);
    assert.equal(r.config.listeners[1].idleTimeoutMs, 60_000, "UDP sessions idle out after 60 s by default");
  });

  test("a health section gets its defaults", () => {
    const r = loadToml(`[[listeners]]\nlisten = ":0"\nbackends = [{ address = "10.0.0.5:80" }]\n[listeners.health]\n`);
    assert.ok(r.ok);
    const h = r.config.listeners[0].health!;
    assert.deepEqual([h.type, h.intervalMs, h.timeoutMs, h.rise, h.fall, h.path, h.expectStatus], [
      "connect",
      5000,
      2000,
      2,
      3,
      "/",
      [200, 399],
    ]);
  });
});

describe("self loops", () => {
  const loops = (listen: string, backend: string, localHosts: string[] = []) => {
    const r = loadToml(`[[listeners]]\nlisten = "${listen}"\nbackends = [{ address = "${backend}" }]`, { localHosts });
    return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
  };

  test("this host's addresses include loopback, and a host that will not list them gives none, not a crash", () => {
    assert.ok(selectRuntime().host.localAddresses().includes("127.0.0.1"));
    const refused = () => {
      throw new Error("netlink: operation not permitted");
    };
    assert.deepEqual(listedOrNone(refused), []);
    // Without them the check still catches loopback.
    assert.equal(loops("0.0.0.0:7000", "127.0.0.5:7000", listedOrNone(refused)).length, 1);
  });

  test("a backend equal to the proxy's own listen address is refused, naming both", () => {
    assert.deepEqual(loops("127.0.0.1:7000", "127.0.0.1:7000"), [
      "listeners[0].backends[0].address: 127.0.0.1:7000 is this proxy's own listener listeners[0] (127.0.0.1:7000); forwarding to it would loop",
    ]);
  });

  test("a wildcard listener loops with any local address, localhost names and the wildcard itself", () => {
    for (
      const backend of [
        "10.1.2.3:7000",
        "127.0.0.5:7000",
        "localhost:7000",
        "app.localhost:7000",
        "[::1]:7000",
        "0.0.0.0:7000",
      ]
    ) {
      assert.equal(loops("0.0.0.0:7000", backend, ["10.1.2.3"]).length, 1, backend);
    }
    assert.equal(loops("[::]:7000", "10.1.2.3:7000", ["10.1.2.3"]).length, 1);
  });

  test("localhost reaches a loopback listener; other addresses, ports and port 0 do not loop", () => {
    assert.equal(loops("127.0.0.1:7000", "localhost:7000").length, 1);
    assert.deepEqual(loops("127.0.0.1:7000", "127.0.0.2:7000"), []);
    assert.deepEqual(loops("127.0.0.1:7000", "127.0.0.1:7001"), []);
    assert.deepEqual(loops("0.0.0.0:7000", "10.9.9.9:7000", ["10.1.2.3"]), []);
    assert.deepEqual(loops("127.0.0.1:0", "127.0.0.1:1"), []);
  });

  test("two backends of one pool with one name (given or default) are refused: they would be one metric series", () => {
    const r = loadToml(
      `[[listeners]]\nlisten = ":0"\nbackends = [{ address = "10.0.0.1:80", name = "x" }, ` +
        `{ address = "10.0.0.2:80", name = "10.0.0.3:80" }, { address = "10.0.0.3:80" }]`,
    );
    assert.deepEqual(r.ok ? [] : r.issues.map((i) => i.path), ["listeners[0].backends[2].name"]);
  });

  test("another listener of the same file counts too", () => {
    const r = loadToml(
      `[[listeners]]\nlisten = "127.0.0.1:7000"\nbackends = [{ address = "127.0.0.1:7001" }]\n` +
        `[[listeners]]\nlisten = "127.0.0.1:7001"\nbackends = [{ address = "10.0.0.5:80" }]`,
    );
    assert.equal(r.ok, false);
    assert.match((r as { issues: { message: string }[] }).issues[0].message, /own listener listeners\[1\]/);
  });
});

describe("arguments", () => {
  test("quick mode: LISTEN and BACKEND[@weight], with options in any position", () => {
    const cmd = parseArgs([
      "--log-level",
      "debug",
      ":8080",
      "10.0.0.5:80",
      "[::1]:81@3",
      "--balance=least-conn",
      "--admin",
      "off",
      "--idle-timeout",
      "30",
    ]);
    assert.deepEqual(cmd, {
      kind: "run",
      source: {
        type: "quick",
        listener: {
          listen: ":8080",
          backends: [{ address: "10.0.0.5:80", weight: 1 }, { address: "[::1]:81", weight: 3 }],
          balance: "least-conn",
          idleTimeout: 30,
        },
      },
      overrides: { admin: false, logLevel: "debug" },
      instance: { pidFile: undefined, takeover: false, watch: true },
    });
  });

  test("-c FILE, --validate and --workers", () => {
    assert.deepEqual(parseArgs(["-c", "s.toml", "-t", "--workers", "2"]), {
      kind: "validate",
      source: { type: "file", path: "s.toml" },
      overrides: { workers: 2 },
      instance: { pidFile: undefined, takeover: false, watch: true },
    });
  });

  test("--takeover needs --pid-file; both are read", () => {
    assert.deepEqual(parseArgs(["-c", "s.toml", "--takeover"]), {
      kind: "usage-error",
      message: "--takeover needs --pid-file FILE, where the running instance wrote its pid",
    });
    const cmd = parseArgs(["-c", "s.toml", "--pid-file", "/run/s.pid", "--takeover"]);
    assert.deepEqual(cmd.kind === "run" && cmd.instance, { pidFile: "/run/s.pid", takeover: true, watch: true });
    const still = parseArgs(["-c", "s.toml", "--no-watch"]);
    assert.equal(still.kind === "run" && still.instance.watch, false);
  });

  test("conflicting or malformed arguments are usage errors with a reason", () => {
    const message = (args: string[]) => {
      const c = parseArgs(args);
      return c.kind === "usage-error" ? c.message : c.kind;
    };
    assert.match(message(["-c", "a.toml", ":80", "b:1"]), /either -c FILE or LISTEN BACKEND/);
    assert.match(message(["-c", "a.toml", "--balance", "hash"]), /--balance applies to quick mode only/);
    assert.match(
      message(["--log-level", "loud", ":80", "b:1"]),
      /--log-level: expected one of debug, info, warn, error/,
    );
    assert.match(message(["--admin", "nowhere:", ":80", "b:1"]), /--admin: invalid port/);
    assert.match(message(["--workers", "0", ":80", "b:1"]), /--workers: expected a whole number from 1 to 256/);
    assert.match(message(["--retries", "x", ":80", "b:1"]), /--retries/);
    assert.match(message(["--idle-timeout", "soon", ":80", "b:1"]), /--idle-timeout: expected a duration/);
    assert.match(message([]), /nothing to do/);
    assert.match(message(["--help", "--bogus-after-help"]), /unknown option --bogus-after-help/);
    assert.equal(message(["-h"]), "help");
  });
});

describe("configuration sources", () => {
  test("command-line overrides replace the file's log and admin settings", async () => {
    const text = `[log]\nlevel = "warn"\n[admin]\nlisten = "127.0.0.1:9999"\n` + minimal;
    const r = await loadSource({ type: "file", path: "x.toml" }, {
      logLevel: "debug",
      logFormat: "json",
      admin: false,
      workers: 3,
    }, { readTextFile: () => Promise.resolve(text) });
    assert.ok(r.ok);
    assert.deepEqual(r.config.log, { level: "debug", format: "json" });
    assert.equal(r.config.admin, null);
    assert.equal(r.config.workers, 3);
  });

  test("quick mode becomes one listener through the same schema", async () => {
    const cmd = parseArgs(["127.0.0.1:0", "10.0.0.5:80@2", "10.0.0.6:80"]);
    assert.equal(cmd.kind, "run");
    if (cmd.kind !== "run") return;
    const r = await loadSource(cmd.source, cmd.overrides, { readTextFile: () => Promise.reject(new Error("unused")) });
    assert.ok(r.ok);
    assert.equal(r.origin, "command line");
    assert.deepEqual(r.config.listeners[0].backends.map((b) => b.weight), [2, 1]);
    assert.equal(r.config.listeners[0].balance, "weighted");
  });
});
