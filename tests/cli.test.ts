/**
 * The real entry point as a child process on this runtime: exit codes and
 * messages for bad configuration, quick mode, signals and memory under a slow reader.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type * as net from "node:net";
import { readFileSync } from "node:fs";
import { VERSION } from "../src/version.ts";
import { closed, connect, delay, digestUntilEnd, readAll, sendRandom, startServer, waitFor } from "./helpers/net.ts";
import { memoryOf, runSluice, runtimeName, startSluice, tempFile } from "./helpers/spawn.ts";

const LISTENING = /listener\.start listener=\S+ address=127\.0\.0\.1:(\d+)/;

const config = (body: string) => tempFile("sluice.toml", body);

describe(`command line on ${runtimeName}`, () => {
  test("--version prints the version from package.json and exits 0", async () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    assert.equal(VERSION, pkg.version);
    const r = await runSluice(["--version"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^sluice ${VERSION.replace(/\./g, "\\.")} \\(${runtimeName} `));
  });

  test("--help shows usage and exits 0", async () => {
    const r = await runSluice(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage:/);
    assert.match(r.stdout, /LISTEN BACKEND/);
  });

  test("a backend that is the proxy itself is refused by --validate and at start-up", async () => {
    for (const flag of [["--validate"], []]) {
      const r = await runSluice([...flag, "127.0.0.1:7345", "127.0.0.1:7345", "--admin", "off"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /backends\[0\]\.address: 127\.0\.0\.1:7345 is this proxy's own listener/);
    }
  });

  test("bad arguments exit 2 with a reason", async () => {
    for (
      const [args, reason] of [
        [["--bogus"], /unknown option --bogus/],
        [[":8080"], /at least one BACKEND/],
        [[":8080", "10.0.0.5"], /BACKEND "10\.0\.0\.5": expected "host:port"/],
        [[":8080", "10.0.0.5:80@0"], /weight must be a whole number/],
        [["--balance", "fastest", ":8080", "a:1"], /--balance: expected one of round-robin/],
        [["-c"], /-c needs a value/],
      ] as const
    ) {
      const r = await runSluice(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, reason);
    }
  });

  test("--validate accepts a good file, exits 0 and says what it found", async () => {
    const path = config(
      `[[listeners]]\nlisten = "127.0.0.1:7000"\nbackends = [{ address = "10.0.0.5:80" }, { address = "10.0.0.6:80", weight = 3 }]\n`,
    );
    const r = await runSluice(["-c", path, "--validate"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configuration is valid \(1 listener, 2 backends\)/);
  });

  test("--validate prints every error with its key path and exits 1", async () => {
    const path = config([
      `bogus = 1`,
      `[[listeners]]`,
      `listen = "127.0.0.1:7000"`,
      `retries = "three"`,
      `backends = [{ address = "10.0.0.5" }, { address = "10.0.0.6:80", weight = "heavy" }]`,
      `[[listeners]]`,
      `listen = "127.0.0.1:7001"`,
      `backends = []`,
    ].join("\n"));
    const r = await runSluice(["-c", path, "--validate"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bogus: unknown key/);
    assert.match(r.stderr, /listeners\[0\]\.retries: expected a number, got "three"/);
    assert.match(r.stderr, /listeners\[0\]\.backends\[0\]\.address: expected "host:port", got "10\.0\.0\.5"/);
    assert.match(r.stderr, /listeners\[0\]\.backends\[1\]\.weight: expected a number, got "heavy"/);
    assert.match(r.stderr, /listeners\[1\]\.backends: a listener needs at least one backend/);
    assert.match(r.stderr, /5 errors; configuration is invalid/);
  });

  test("duplicate listener addresses are refused with both key paths", async () => {
    const path = config([
      `[[listeners]]\nlisten = "0.0.0.0:7000"\nbackends = [{ address = "10.0.0.5:80" }]`,
      `[[listeners]]\nlisten = "127.0.0.1:7000"\nbackends = [{ address = "10.0.0.6:80" }]`,
    ].join("\n"));
    const r = await runSluice(["-c", path, "--validate"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /listeners\[1\]\.listen: 127\.0\.0\.1:7000 overlaps listeners\[0\]\.listen \(0\.0\.0\.0:7000\)/,
    );
  });

  test("a TOML syntax error names the line and column", async () => {
    const r = await runSluice(["-c", config(`[[listeners]]\nlisten = "127.0.0.1:7000\n`), "--validate"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /line 2, column \d+: invalid TOML/);
  });

  test("a missing file is refused with exit 1", async () => {
    const r = await runSluice(["-c", "/nonexistent/sluice.toml"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\/nonexistent\/sluice\.toml: cannot read file/);
  });

  test("a bad config at start-up exits 1 with the same messages as --validate", async () => {
    const path = config(`[[listeners]]\nlisten = "127.0.0.1:7000"\nbackends = [{ address = "10.0.0.5:99999" }]\n`);
    const r = await runSluice(["-c", path]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /listeners\[0\]\.backends\[0\]\.address: port 99999 out of range 1-65535/);
    assert.match(r.stderr, /1 error; not started/);
  });

  test("a listen address already in use fails start-up with exit 1", async () => {
    const blocker = await startServer(() => {});
    try {
      const r = await runSluice([`127.0.0.1:${blocker.port}`, "127.0.0.1:9", "--admin", "off"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${blocker.port}: address in use`));
    } finally {
      await blocker.close();
    }
  });

  test("quick mode forwards to its backends, and SIGTERM drains live connections before exit 0", async () => {
    let held: net.Socket | undefined;
    const backend = await startServer((socket) => {
      held = socket;
      socket.on("data", (d) => socket.write(d));
      socket.on("end", () => socket.end());
    });
    const proc = startSluice(["127.0.0.1:0", `127.0.0.1:${backend.port}`, "--admin", "off"]);
    try {
      const port = Number((await proc.waitForLog(LISTENING))[1]);
      const client = await connect(port);
      client.write("before");
      const echoed = new Promise<string>((resolve) => {
        let got = "";
        client.on("data", (d) => (got += d) && got.length >= 11 && resolve(got));
      });
      await waitFor(() => held !== undefined);
      proc.kill("SIGTERM");
      await proc.waitForLog(/shutdown\.drain connections=1/);
      await assert.rejects(connect(port), "a stopped listener must refuse new connections");
      client.write("after");
      assert.equal(await echoed, "beforeafter");
      client.end();
      assert.equal(await proc.exited, 0);
      assert.match(proc.stderr(), /shutdown\.done drained=1 aborted=0/);
      await closed(client);
    } finally {
      proc.kill("SIGKILL");
      await backend.close();
    }
  });

  test("a connection still open when the drain timeout ends is closed, and the exit is still 0", async () => {
    const backend = await startServer((socket) => socket.on("data", () => {}));
    const path = config(
      `drain_timeout = "300ms"\n[admin]\nenabled = false\n[[listeners]]\nlisten = "127.0.0.1:0"\nbackends = [{ address = "127.0.0.1:${backend.port}" }]\n`,
    );
    const proc = startSluice(["-c", path]);
    try {
      const port = Number((await proc.waitForLog(LISTENING))[1]);
      const client = await connect(port);
      client.on("error", () => {});
      await waitFor(() => backend.sockets.size === 1);
      proc.kill("SIGTERM");
      await readAll(client).catch(() => undefined); // ends when the proxy closes it
      assert.equal(await proc.exited, 0);
      assert.match(proc.stderr(), /reason=shutdown/);
      assert.match(proc.stderr(), /shutdown\.done drained=0 aborted=1/);
    } finally {
      proc.kill("SIGKILL");
      await backend.close();
    }
  });

  test("a slow reader holds the backend back: proxy memory stays bounded while 256 MiB pass", async () => {
    const size = 256 << 20;
    let handedOff = 0;
    let sent: Promise<string> | undefined;
    const backend = await startServer((socket) => {
      const write = socket.write.bind(socket);
      socket.write = ((chunk: Uint8Array, ...rest: never[]) => {
        handedOff += chunk.length;
        return write(chunk, ...rest);
      }) as typeof socket.write;
      sent = sendRandom(socket, size);
    });
    const proc = startSluice(["127.0.0.1:0", `127.0.0.1:${backend.port}`, "--admin", "off"]);
    try {
      const port = Number((await proc.waitForLog(LISTENING))[1]);
      await delay(200);
      const baseline = memoryOf(proc.pid).rss;
      const client = await connect(port);
      client.pause();
      // Wait until the backend stops being able to send (it is held back), bounded at 10 s.
      let last = -1;
      for (let i = 0; i < 100 && handedOff !== last; i++) {
        last = handedOff;
        await delay(200);
      }
      const stalled = memoryOf(proc.pid);
      assert.ok(handedOff < 64 << 20, `backend sent ${handedOff >> 20} MiB while the client read nothing`);
      assert.ok(
        stalled.rss - baseline < 48 << 20,
        `proxy RSS grew ${(stalled.rss - baseline) >> 20} MiB while stalled`,
      );
      const received = digestUntilEnd(client);
      client.resume();
      const [got, expected] = await Promise.all([received, sent!]);
      assert.equal(got.bytes, size);
      assert.equal(got.sha256, expected);
      const after = memoryOf(proc.pid);
      assert.ok(
        after.peak - baseline < 128 << 20,
        `proxy peak RSS grew ${(after.peak - baseline) >> 20} MiB over 256 MiB`,
      );
    } finally {
      proc.kill("SIGKILL");
      await backend.close();
    }
  });
});
