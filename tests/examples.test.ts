/**
 * The operator files in examples/, each checked by the tool that will read it: every configuration passes
 * `sluice --validate` on this runtime and a broken copy is refused with its key path; the systemd unit passes
 * `systemd-analyze verify` with nothing to say and `systemd-analyze security` rates it (Debian's systemd
 * package); what the unit lets Sluice write, bind and hold matches the configurations; the alert rules pass
 * `promtool check rules` (Debian's prometheus package); the dashboard is Grafana JSON whose every panel queries
 * Prometheus. tests/prometheus-examples.test.ts runs the rules and the dashboard against a real Prometheus.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadToml } from "../src/config/load.ts";
import type { Config } from "../src/config/schema.ts";
import { runSluice, runtimeName } from "./helpers/spawn.ts";

const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));
const UNIT = join(EXAMPLES, "sluice.service");
const RULES = join(EXAMPLES, "prometheus/sluice-alerts.yml");
const DASHBOARD = join(EXAMPLES, "grafana/sluice-dashboard.json");
/** The exposure `systemd-analyze security` may give the unit (0 best, 10 worst; 1.7 with systemd 252). */
const MAX_EXPOSURE = 2.5;

const scratch = mkdtempSync(join(tmpdir(), "sluice-examples-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs a tool to completion (killed after 20 s); resolves with its exit code and both outputs together. */
function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      const missing = error && typeof error.code === "string" ? `cannot run ${command}: ${error.message}\n` : "";
      resolve({ code, output: missing + stdout + stderr });
    });
  });
}

const tomlFiles = () => readdirSync(EXAMPLES).filter((f) => f.endsWith(".toml")).sort();
const read = (file: string) => readFileSync(join(EXAMPLES, file), "utf8");

/** The example parsed as Sluice parses it. */
function loaded(file: string): Config {
  const result = loadToml(read(file));
  assert.ok(result.ok, `${file}: ${JSON.stringify(!result.ok && result.issues)}`);
  return result.config;
}

/** `[Service]` settings of a unit file: every value of each key, in order (comments and sections dropped). */
function unitSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) settings.set(m[1], [...(settings.get(m[1]) ?? []), m[2]]);
  }
  return settings;
}

/** A systemd time span such as `45s`, `1min 30s` or `2m`, in milliseconds (the forms this unit may use). */
function timespanMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]*)/g)) {
    assert.ok(unit === "" || units[unit], `unknown unit in ${text}`);
    total += Number(n) * (unit === "" ? 1000 : units[unit]);
  }
  return total;
}

/** The unit with every path to Sluice's command pointing at `executable`, written to a fresh directory. */
function unitCopy(executable: string, edit: (text: string) => string = (t) => t): string {
  const dir = mkdtempSync(join(scratch, "unit-"));
  const path = join(dir, "sluice.service");
  writeFileSync(path, edit(readFileSync(UNIT, "utf8").replaceAll("/usr/local/bin/sluice", executable)));
  return path;
}

/** An executable file to stand in for /usr/local/bin/sluice, which `systemd-analyze verify` requires to exist. */
function standIn(): string {
  const dir = join(scratch, "bin");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "sluice");
  writeFileSync(path, "#!/bin/sh\nexit 0\n");
  chmodSync(path, 0o755);
  return path;
}

describe(`examples/ on ${runtimeName}`, () => {
  test("every example configuration passes --validate without a warning", async () => {
    const files = tomlFiles();
    for (const file of ["dns-udp.toml", "redis-hash.toml", "web-pool.toml"]) assert.ok(files.includes(file), file);
    for (const file of files) {
      const r = await runSluice(["--validate", "-c", join(EXAMPLES, file)]);
      assert.equal(r.code, 0, `${file}: ${r.stderr}`);
      assert.match(r.stdout, /configuration is valid \(\d+ listeners?, \d+ backends?\)/);
      assert.equal(r.stderr, "", `${file} has warnings`);
    }
  });

  test("a broken copy of each is refused, naming the key path", async () => {
    const broken: [string, (text: string) => string, RegExp][] = [
      [
        "web-pool.toml",
        (t) => t.replace(`balance = "least-conn"`, `balance = "least-connections"`),
        /listeners\[0\]\.balance: expected one of .*got "least-connections"/,
      ],
      [
        "dns-udp.toml",
        (t) => t.replaceAll(`expect = "hex:1234 8180"`, `expect = "hex:1234 818"`),
        /listeners\[1\]\.health\.expect: expected an even number of hex digits/,
      ],
      [
        "redis-hash.toml",
        (t) => t.replace(/^idle_timeout = 0$/m, `idle_timeout = "forever"`),
        /listeners\[0\]\.idle_timeout: expected a duration/,
      ],
    ];
    for (const [file, edit, reason] of broken) {
      const text = edit(read(file));
      assert.notEqual(text, read(file), `${file}: the edit applies`);
      const path = join(mkdtempSync(join(scratch, "broken-")), file);
      writeFileSync(path, text);
      const r = await runSluice(["--validate", "-c", path]);
      assert.equal(r.code, 1, `${file}: ${r.stdout}`);
      assert.match(r.stderr, reason);
      assert.match(r.stderr, /configuration is invalid/);
    }
  });

  test("the DNS health checks send a well-formed query and accept only a NOERROR answer to it", () => {
    const config = loaded("dns-udp.toml");
    const [udp, tcp] = config.listeners;
    assert.deepEqual([udp.protocol, tcp.protocol, udp.listen.port, tcp.listen.port], ["udp", "tcp", 53, 53]);
    const query = udp.health!.send!;
    const view = new DataView(query.buffer, query.byteOffset, query.byteLength);
    const id = view.getUint16(0);
    assert.equal(view.getUint16(2), 0x0100, "a standard query, recursion desired");
    assert.deepEqual([1, 2, 3, 4].map((i) => view.getUint16(2 * i + 2)), [1, 0, 0, 0], "one question, nothing else");
    // The question: a name of length-prefixed labels ending in the root's empty one, then type and class.
    let at = 12;
    while (query[at] !== 0) at += 1 + query[at];
    assert.deepEqual([view.getUint16(at + 1), view.getUint16(at + 3)], [2, 1], "type NS, class IN");
    assert.equal(at + 5, query.length, "nothing after the question");
    const expect = udp.health!.expect!;
    assert.deepEqual([...expect], [id >> 8, id & 0xff, 0x81, 0x80], "the same ID; a response, RA, NOERROR");
    // Over TCP the same message, preceded by its length.
    const framed = tcp.health!.send!;
    assert.equal((framed[0] << 8) | framed[1], query.length);
    assert.deepEqual([...framed.subarray(2)], [...query]);
    assert.deepEqual([...tcp.health!.expect!], [...expect]);
  });

  test("the Redis health check sends PING and wants +PONG; the pool is a consistent hash", () => {
    const [redis] = loaded("redis-hash.toml").listeners;
    assert.equal(redis.balance, "hash");
    assert.equal(new TextDecoder().decode(redis.health!.send!), "PING\r\n");
    assert.equal(new TextDecoder().decode(redis.health!.expect!), "+PONG");
    assert.equal(redis.idleTimeoutMs, 0, "pooled client connections are never closed for idling");
  });

  test("systemd-analyze verify has nothing to say about the unit, and notices a broken copy", async () => {
    const executable = standIn();
    const unit = unitCopy(executable);
    const r = await run("systemd-analyze", ["verify", unit]);
    const aboutUnit = r.output.split("\n").filter((line) => /sluice/.test(line));
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(aboutUnit, [], r.output);
    // The check can fail: a misspelt key and a missing program are reported against the file.
    const broken = unitCopy(executable, (t) => t.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"));
    const typo = await run("systemd-analyze", ["verify", broken]);
    assert.match(typo.output, /sluice\.service:\d+: Unknown key.*'NoNewPrivilege'/);
    const missing = await run("systemd-analyze", ["verify", unitCopy(join(scratch, "no-such-sluice"))]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.output, /no-such-sluice/);
  });

  test("systemd-analyze security rates the unit's sandbox OK", async () => {
    const r = await run("systemd-analyze", ["security", "--offline=true", unitCopy(standIn())]);
    const m = /Overall exposure level for sluice\.service: (\d+(?:\.\d+)?)/.exec(r.output);
    assert.ok(m, r.output);
    assert.ok(Number(m[1]) <= MAX_EXPOSURE, `exposure ${m[1]} > ${MAX_EXPOSURE}:\n${r.output}`);
  });

  test("the unit's hardening: what it sets, and what it must not", () => {
    const unit = unitSettings(readFileSync(UNIT, "utf8"));
    const one = (key: string) => {
      const values = unit.get(key);
      assert.equal(values?.length, 1, `${key}= once, got ${JSON.stringify(values)}`);
      return values![0];
    };
    const expected: Record<string, string> = {
      DynamicUser: "yes",
      AmbientCapabilities: "CAP_NET_BIND_SERVICE",
      CapabilityBoundingSet: "CAP_NET_BIND_SERVICE",
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      StateDirectory: "sluice",
      ConfigurationDirectory: "sluice",
      SystemCallArchitectures: "native",
      RestrictAddressFamilies: "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(one(key), value, key);
    assert.deepEqual(unit.get("ExecReload"), [
      "/usr/local/bin/sluice -c /etc/sluice/sluice.toml --validate",
      "/bin/kill -HUP $MAINPID",
    ]);
    // JIT compilers need writable, then executable memory; a user namespace would void CAP_NET_BIND_SERVICE.
    for (const forbidden of ["MemoryDenyWriteExecute", "PrivateUsers", "ReadWritePaths", "User"]) {
      assert.equal(unit.get(forbidden), undefined, `${forbidden}= must not be set`);
    }
    assert.ok(Number(one("LimitNOFILE")) >= 65536, "LimitNOFILE is high");
  });

  test("what the unit lets Sluice write, bind and hold matches each example configuration", () => {
    const unit = unitSettings(readFileSync(UNIT, "utf8"));
    const stateDir = `/var/lib/${unit.get("StateDirectory")![0]}/`;
    const configDir = `/etc/${unit.get("ConfigurationDirectory")![0]}/`;
    const exec = /^(\S+) -c (\S+) --no-watch$/.exec(unit.get("ExecStart")![0]);
    assert.ok(exec, "ExecStart= is COMMAND -c FILE --no-watch: edits go live on systemctl reload, validated");
    assert.ok(exec[2].startsWith(configDir), `${exec[2]} is in ConfigurationDirectory= ${configDir}`);
    const stopMs = timespanMs(unit.get("TimeoutStopSec")![0]);
    const files = Number(unit.get("LimitNOFILE")![0]);
    const canBindLow = unit.get("AmbientCapabilities")![0].split(/\s+/).includes("CAP_NET_BIND_SERVICE");

    assert.ok(loaded("web-pool.toml").stats.stateFile, "web-pool.toml keeps its history across restarts");
    for (const file of tomlFiles()) {
      const config = loaded(file);
      // ProtectSystem=strict leaves the state directory the one place that outlives a restart and may be written.
      const state = config.stats.stateFile;
      if (state !== null) assert.ok(state.startsWith(stateDir), `${file}: ${state} is not in ${stateDir}`);
      assert.ok(config.drainTimeoutMs < stopMs, `${file}: drain_timeout must end before TimeoutStopSec= kills`);
      for (const l of config.listeners) {
        if (l.listen.port < 1024) assert.ok(canBindLow, `${file}: ${l.name} binds port ${l.listen.port}`);
      }
      // Per thread: two descriptors per TCP connection, one per UDP session; a thousand more for everything else.
      const needed = config.workers * config.listeners.reduce(
            (n, l) => n + (l.protocol === "tcp" ? 2 * l.maxConnections : l.maxSessions),
            0,
          ) + 1024;
      assert.ok(needed <= files, `${file}: up to ${needed} descriptors, LimitNOFILE=${files}`);
      // No credentials in the file (the unit's EnvironmentFile= is the place): the admin server stays on loopback.
      assert.equal(config.admin?.auth ?? null, null, `${file}: credentials belong in /etc/sluice/sluice.env`);
      assert.match(config.admin?.listen.host ?? "127.0.0.1", /^127\./);
    }
  });

  test("promtool check rules accepts the alerts, all of them", async () => {
    const alerts = [...readFileSync(RULES, "utf8").matchAll(/^\s*- alert: (\w+)$/gm)].length;
    assert.ok(alerts >= 8, `${alerts} alerts`);
    const r = await run("promtool", ["check", "rules", RULES]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, new RegExp(`SUCCESS: ${alerts} rules found`));
  });

  test("the Grafana dashboard: Prometheus through ${DS_PROMETHEUS}, a listener variable, a query in every panel", () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8"));
    assert.ok(
      dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41,
      `schemaVersion ${dashboard.schemaVersion}`,
    );
    assert.equal(dashboard.uid, "sluice-overview");
    assert.deepEqual(dashboard.__inputs.map((i: { name: string; pluginId: string }) => [i.name, i.pluginId]), [
      ["DS_PROMETHEUS", "prometheus"],
    ]);
    const variables = new Map<string, { type: string; query?: unknown; definition?: string }>(
      dashboard.templating.list.map((v: { name: string }) => [v.name, v]),
    );
    assert.equal(variables.get("DS_PROMETHEUS")?.type, "datasource", "provisioned from a file, too");
    assert.match(variables.get("listener")?.definition ?? "", /^label_values\(sluice_\w+\{.*\}, listener\)$/);
    assert.match(variables.get("instance")?.definition ?? "", /^label_values\(sluice_\w+, instance\)$/);

    const ids = new Set<number>();
    const cells = new Set<string>();
    let queries = 0;
    for (const panel of dashboard.panels) {
      assert.ok(!ids.has(panel.id), `panel id ${panel.id} once`);
      ids.add(panel.id);
      const { x, y, w, h } = panel.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24, `"${panel.title}" fits 24 columns`);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          assert.ok(!cells.has(`${i},${j}`), `"${panel.title}" overlaps another panel`);
          cells.add(`${i},${j}`);
        }
      }
      if (panel.type === "row") continue;
      assert.ok(panel.targets?.length > 0, `"${panel.title}" has targets`);
      assert.deepEqual(panel.datasource, { type: "prometheus", uid: "${DS_PROMETHEUS}" });
      const refIds = new Set<string>();
      for (const target of panel.targets) {
        assert.equal(typeof target.expr, "string", `"${panel.title}" target ${target.refId} has an expr`);
        assert.ok(target.expr.trim().length > 0, `"${panel.title}" target ${target.refId} has an expr`);
        assert.match(target.expr, /\bsluice_\w+/, `"${panel.title}" queries Sluice's metrics`);
        assert.match(target.expr, /instance=~"\$instance"/, `"${panel.title}" follows the instance variable`);
        assert.deepEqual(target.datasource, { type: "prometheus", uid: "${DS_PROMETHEUS}" });
        assert.ok(!refIds.has(target.refId), `"${panel.title}" refId ${target.refId} once`);
        refIds.add(target.refId);
        queries++;
      }
    }
    assert.ok(queries >= 20, `${queries} queries`);
    const titles = dashboard.panels.map((p: { title: string }) => p.title.toLowerCase()).join("\n");
    for (const topic of ["throughput", "connections/s", "backend state", "connect time", "refused", "reloads", "udp"]) {
      assert.ok(titles.includes(topic), `a panel about ${topic}`);
    }
  });
});
