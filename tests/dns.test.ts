/**
 * Real clients and servers, as users run them: `dig` asking `dnsmasq` through
 * Sluice over UDP (with `responses = 1`, one session per query) and over TCP
 * on the same port number, through the real CLI. `.ci/run` installs both
 * (Debian dnsmasq-base, bind9-dnsutils).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { freePort } from "./helpers/net.ts";
import { runtimeName, type SluiceProcess, startSluice, tempFile } from "./helpers/spawn.ts";

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function dig(port: number, name: string, tcp = false): Promise<string> {
  const args = ["@127.0.0.1", "-p", String(port), name, "A", "+short", "+time=2", "+tries=1", ...(tcp ? ["+tcp"] : [])];
  return new Promise((resolve) => execFile("dig", args, { timeout: 10_000 }, (_e, stdout) => resolve(stdout.trim())));
}

describe(`dig through Sluice to dnsmasq on ${runtimeName}`, () => {
  test("UDP (one session per query) and TCP on one port answer like dnsmasq itself", async () => {
    const dnsPort = await freePort();
    const dnsmasq = spawn("dnsmasq", [
      "--no-daemon",
      `--port=${dnsPort}`,
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--no-resolv",
      "--no-hosts",
      "--address=/sluice.test/192.0.2.7",
      "--cache-size=0",
    ], { stdio: "ignore" });
    cleanups.push(() => dnsmasq.kill("SIGKILL"));
    await new Promise((r) => setTimeout(r, 300)); // dnsmasq binds
    assert.equal(await dig(dnsPort, "a.sluice.test"), "192.0.2.7", "dnsmasq answers directly");

    let proc: SluiceProcess | undefined;
    let port = 0;
    for (let attempt = 0; attempt < 5 && !proc; attempt++) {
      port = await freePort();
      const config = tempFile(
        "dns.toml",
        `[admin]\nenabled = false\n` +
          `[[listeners]]\nprotocol = "udp"\nlisten = "127.0.0.1:${port}"\nresponses = 1\n` +
          `backends = [{ address = "127.0.0.1:${dnsPort}" }]\n` +
          `health = { send = "hex:1234010000010000000000000000020001", expect = "hex:1234", interval = "200ms" }\n` +
          `[[listeners]]\nlisten = "127.0.0.1:${port}"\nbackends = [{ address = "127.0.0.1:${dnsPort}" }]\n`,
      );
      const started = startSluice(["-c", config]);
      cleanups.push(() => (started.kill("SIGKILL"), started.exited));
      const ok = await started.waitForLog(/listener\.start .*\n.*listener\.start /, 10_000).then(
        () => true,
        () => false,
      );
      if (ok) proc = started;
      else started.kill("SIGKILL");
    }
    assert.ok(proc, "Sluice started");
    for (let i = 0; i < 5; i++) assert.equal(await dig(port, `q${i}.sluice.test`), "192.0.2.7");
    assert.equal(await dig(port, "tcp.sluice.test", true), "192.0.2.7", "TCP on the same port number");
    proc.kill("SIGTERM");
    assert.equal(await proc.exited, 0);
    assert.doesNotMatch(proc.stderr(), /upstream\.health .*to=down/, "the DNS health check holds");
  });
});
