/**
 * Two instances and one port, through the real entry point: a second
 * instance may not silently join a port that another holds (with any number
 * of worker threads), and `--takeover` hands the port over under a steady
 * stream of new connections without refusing one, and of new UDP clients
 * without leaving one unanswered.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { selectRuntime } from "../src/runtime/select.ts";
import { exchange, freePort, replyAfterRequest, startServer, type TestServer, waitFor } from "./helpers/net.ts";
import { runtimeName, type SluiceProcess, startSluice, tempFile } from "./helpers/spawn.ts";
import { startUdpServer, udpClient } from "./helpers/udp.ts";

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function spawnSluice(args: string[]): SluiceProcess {
  const proc = startSluice(args);
  cleanups.push(() => (proc.kill("SIGKILL"), proc.exited));
  return proc;
}

/**
 * Whether listeners can share a port (SO_REUSEPORT) here: the instances are spawned on the runtime that runs
 * this test, so its adapter says (Node from 22.12 / 23.1, found by binding; tests/relay.test.ts checks the claim).
 */
const canShare = selectRuntime().net.supportsReusePort;

describe(`one port, two instances, on ${runtimeName}`, () => {
  let backend: TestServer;

  test("a second instance on a port another holds fails with address in use, with 1 or 2 workers", async () => {
    backend = await startServer(replyAfterRequest("pong"));
    cleanups.push(() => backend.close());
    const port = await freePort();
    const first = spawnSluice([`127.0.0.1:${port}`, `127.0.0.1:${backend.port}`, "--admin", "off"]);
    await first.waitForLog(/listener\.start/);
    for (const workers of ["1", "2"]) {
      const second = spawnSluice([
        `127.0.0.1:${port}`,
        `127.0.0.1:${backend.port}`,
        "--admin",
        "off",
        "--workers",
        workers,
      ]);
      assert.equal(await second.exited, 1, `--workers ${workers}: ${second.stderr()}`);
      assert.match(second.stderr(), new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port}: address in use`));
    }
    assert.equal(await exchange(port, "ping"), "pong", "the first instance still serves");
  });

  test(
    canShare
      ? "--takeover hands the port over under a steady stream of new connections, refusing none"
      : "--takeover is refused with a reason where listeners cannot share a port",
    async () => {
      const port = await freePort();
      const adminPort = await freePort();
      const pidFile = join(dirname(tempFile("x", "")), "sluice.pid");
      const args = [
        `127.0.0.1:${port}`,
        `127.0.0.1:${backend.port}`,
        "--admin",
        `127.0.0.1:${adminPort}`,
        "--pid-file",
        pidFile,
      ];
      const old = spawnSluice(args);
      await old.waitForLog(/admin\.start/);
      // The pid file is written once start-up has finished, a moment after admin.start is logged.
      const pidWritten = () => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() === String(old.pid);
      assert.ok(await waitFor(pidWritten), `the pid file names ${old.pid}`);
      if (!canShare) {
        const refused = spawnSluice([...args, "--takeover"]);
        assert.equal(await refused.exited, 1);
        assert.match(refused.stderr(), /--takeover binds beside the running instance with SO_REUSEPORT/);
        return;
      }

      let ok = 0;
      const failures: string[] = [];
      let stop = false;
      const traffic = (async () => {
        for (let i = 0; i < 5000 && !stop; i++) {
          try {
            if ((await exchange(port, "ping")) === "pong") ok++;
            else failures.push("wrong reply");
          } catch (error) {
            failures.push((error as Error).message);
          }
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      const successor = spawnSluice([...args, "--takeover"]);
      await successor.waitForLog(new RegExp(`takeover\\.signalled pid=${old.pid}`));
      assert.equal(await old.exited, 0, old.stderr());
      await successor.waitForLog(/admin\.start/, 10_000);
      const seenBefore = ok;
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await traffic;
      // A connection in the old listener's accept queue as it closes is reset by Linux unless tcp_migrate_req moves
      // it (README says so); a refused connection is never acceptable.
      const sysctl = "/proc/sys/net/ipv4/tcp_migrate_req";
      const migrates = existsSync(sysctl) && readFileSync(sysctl, "utf8").trim() === "1";
      const counted = migrates ? failures : failures.filter((f) => !/ECONNRESET/.test(f));
      assert.deepEqual(counted, [], `${failures.length} of ${ok + failures.length} connections failed`);
      assert.ok(ok > seenBefore, "the successor serves");
      assert.equal(readFileSync(pidFile, "utf8").trim(), String(successor.pid));
      successor.kill("SIGTERM");
      assert.equal(await successor.exited, 0);
      assert.equal(existsSync(pidFile), false, "the pid file is removed on exit");
    },
  );

  test("--takeover never signals a process that is not Sluice, and then does not share the port", async () => {
    if (!canShare) return;
    const port = await freePort();
    const holder = spawnSluice([`127.0.0.1:${port}`, `127.0.0.1:${backend.port}`, "--admin", "off"]);
    await holder.waitForLog(/listener\.start/);
    const stranger = spawn("sleep", ["30"]);
    cleanups.push(() => stranger.kill("SIGKILL"));
    const pidFile = tempFile("stale.pid", `${stranger.pid}\n`);
    const successor = spawnSluice([
      `127.0.0.1:${port}`,
      `127.0.0.1:${backend.port}`,
      "--admin",
      "off",
      "--pid-file",
      pidFile,
      "--takeover",
    ]);
    assert.equal(await successor.exited, 1, "the normal address-in-use check applies");
    assert.match(successor.stderr(), /takeover\.alone .*that process is not Sluice/);
    assert.match(successor.stderr(), /address in use/);
    assert.equal(stranger.exitCode, null, "the stranger was not signalled");
    assert.equal(stranger.signalCode, null);
  });

  const canShareUdp = selectRuntime().net.supportsUdpReusePort;
  test(
    canShareUdp
      ? "--takeover leaves no new UDP client unanswered while the old instance drains its sessions"
      : "--takeover of a UDP port this runtime cannot share fails, and the running instance serves on",
    async () => {
      if (!canShare) return;
      const echo = await startUdpServer((data) => Buffer.concat([Buffer.from("echo "), data]));
      cleanups.push(() => echo.close());
      const port = await freePort();
      // One listener, one thread: the kernel then splits new clients between exactly two sockets during the handover.
      const config = tempFile(
        "udp.toml",
        `drain_timeout = "3s"\n[[listeners]]\nprotocol = "udp"\nlisten = "127.0.0.1:${port}"\n` +
          `idle_timeout = "2s"\nbackends = [{ address = "127.0.0.1:${echo.port}" }]\n`,
      );
      const pidFile = join(dirname(config), "sluice.pid");
      const args = ["-c", config, "--admin", "off", "--no-watch", "--pid-file", pidFile];
      const old = spawnSluice(args);
      await old.waitForLog(/listener\.start/);
      assert.ok(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() === String(old.pid)));
      // Without --takeover a second instance may not join the UDP port either (it binds with SO_REUSEPORT too).
      const intruder = spawnSluice(["-c", config, "--admin", "off", "--no-watch"]);
      assert.equal(await intruder.exited, 1, intruder.stderr());
      assert.match(intruder.stderr(), new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port}: address in use`));
      // A client that keeps its session on the old instance, so that it drains rather than closing at once.
      const keeper = await udpClient(port);
      cleanups.push(() => keeper.close());
      assert.equal((await keeper.ask("keep"))?.toString(), "echo keep");
      let keeping = true;
      const keeperLoop = (async () => {
        for (let i = 0; i < 100 && keeping; i++) {
          await keeper.ask("keep", 200);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();

      const successor = spawnSluice([...args, "--takeover"]);
      if (!canShareUdp) {
        assert.equal(await successor.exited, 1, successor.stderr());
        assert.match(successor.stderr(), /address in use/);
        keeping = false;
        await keeperLoop;
        assert.equal((await keeper.ask("still"))?.toString(), "echo still", "the old instance serves on");
        return;
      }
      await successor.waitForLog(new RegExp(`takeover\\.signalled pid=${old.pid}`));
      await old.waitForLog(/shutdown\.drain/);
      // While the old instance drains, batches of new clients, each with one datagram.
      let asked = 0;
      const unanswered: number[] = [];
      for (let batch = 0; batch < 4 && old.child.exitCode === null; batch++) {
        const clients = await Promise.all(Array.from({ length: 20 }, () => udpClient(port)));
        const replies = await Promise.all(clients.map((c, i) => c.ask(`q${batch}-${i}`, 1000)));
        clients.forEach((c) => c.close());
        replies.forEach((r, i) => {
          asked++;
          if (r?.toString() !== `echo q${batch}-${i}`) unanswered.push(batch * 20 + i);
        });
      }
      keeping = false;
      await keeperLoop;
      assert.ok(asked >= 20, `${asked} new clients asked while the old instance drained`);
      assert.deepEqual(unanswered, [], `${unanswered.length} of ${asked} new UDP clients got no answer`);
      assert.equal(await old.exited, 0, old.stderr());
      const later = await udpClient(port);
      cleanups.push(() => later.close());
      assert.equal((await later.ask("after", 1000))?.toString(), "echo after", "the successor serves");
      successor.kill("SIGTERM");
      assert.equal(await successor.exited, 0);
    },
  );
});
