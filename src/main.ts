/**
 * The program: arguments -> configuration -> run until a signal -> exit code.
 *
 * @module
 */
import { startSluice } from "./compose.ts";
import { createLogger } from "./log.ts";
import { parseArgs, USAGE } from "./cli.ts";
import { formatIssue } from "./config/load.ts";
import { envCredentials, loadSource } from "./config/sources.ts";
import { type Demo, startDemo } from "./demo.ts";
import { hashPasswordCommand } from "./hash-password.ts";
import { formatAddress } from "./net/address.ts";
import type { Runtime } from "./runtime/types.ts";
import { findPredecessor, removePid, signalPredecessor, writePid } from "./pidfile.ts";
import { VERSION } from "./version.ts";

/** Exit codes: 0 fine, 1 configuration or start-up failure, 2 bad command line. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Runs Sluice with the runtime's arguments; resolves with the exit code once
 * it is done (for `run`, after a signal and the drain).
 */
export async function main(runtime: Runtime): Promise<number> {
  const command = parseArgs(runtime.host.args);
  switch (command.kind) {
    case "help":
      runtime.host.writeOut(USAGE);
      return EXIT.ok;
    case "version":
      runtime.host.writeOut(`sluice ${VERSION} (${runtime.name} ${runtime.version})\n`);
      return EXIT.ok;
    case "usage-error":
      runtime.host.writeErr(`sluice: ${command.message}\nTry 'sluice --help'.\n`);
      return EXIT.usage;
    case "hash-password":
      return await hashPasswordCommand(runtime.host);
  }
  // WEB_USERNAME and WEB_PASSWORD override the file's credentials, at start and on every reload.
  const overrides = { ...command.overrides, credentials: envCredentials(runtime.host.env) };

  let demo: Demo | undefined;
  if (command.source.type === "demo" && command.kind === "run") demo = await startDemo(runtime);
  const localHosts = runtime.host.localAddresses();
  if (localHosts.length === 0) {
    runtime.host.writeErr(
      "warning: this host will not list its interface addresses; a backend on one of them that loops back to a " +
        "listener is not caught (loopback and wildcard addresses still are)\n",
    );
  }
  const loaded = await loadSource(command.source, overrides, {
    readTextFile: runtime.host.readTextFile,
    localHosts,
    // --validate --demo checks the demo's shape without starting its backends.
    demoBackends: demo?.backends ?? ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"],
  });

  if (!loaded.ok) {
    for (const issue of loaded.issues) runtime.host.writeErr(formatIssue(loaded.origin, issue) + "\n");
    const count = loaded.issues.length;
    runtime.host.writeErr(
      `sluice: ${loaded.origin}: ${count} error${count === 1 ? "" : "s"}; ${
        command.kind === "validate" ? "configuration is invalid" : "not started"
      }\n`,
    );
    await demo?.close();
    return EXIT.failed;
  }
  for (const warning of loaded.warnings) runtime.host.writeErr(`warning: ${formatIssue(loaded.origin, warning)}\n`);
  if (command.kind === "validate") {
    const { listeners } = loaded.config;
    const backends = listeners.reduce((n, l) => n + l.backends.length, 0);
    runtime.host.writeOut(
      `${loaded.origin}: configuration is valid (${listeners.length} listener${
        listeners.length === 1 ? "" : "s"
      }, ${backends} backend${backends === 1 ? "" : "s"})\n`,
    );
    return EXIT.ok;
  }

  const log = createLogger(runtime, loaded.config);
  const { pidFile, takeover } = command.instance;
  if (takeover && !runtime.net.supportsReusePort) {
    log.error("start.failed", {
      error: `--takeover binds beside the running instance with SO_REUSEPORT, which ${runtime.name} ` +
        `${runtime.version} cannot do here`,
    });
    log.flush();
    return EXIT.failed;
  }
  const predecessor = takeover ? await findPredecessor(runtime.host, log, pidFile!) : undefined;
  let sluice;
  try {
    const file = command.source.type === "file" ? command.source.path : undefined;
    sluice = await startSluice(runtime, loaded.config, {
      log,
      takeover: predecessor !== undefined,
      document: loaded.document,
      file,
      fileText: loaded.text,
      watch: command.instance.watch,
      overrides,
    });
    if (pidFile !== undefined) await writePid(runtime.host, pidFile);
  } catch (error) {
    log.error("start.failed", { error: (error as Error).message });
    await sluice?.shutdown(); // started, but its pid file could not be written
    log.flush();
    await demo?.close();
    return EXIT.failed;
  }
  if (demo) {
    const address = sluice.listeners()[0].address;
    const url = `http://${formatAddress(address)}/`;
    demo.startTraffic(url);
    const admin = sluice.adminAddress && `http://${formatAddress(sluice.adminAddress)}`;
    runtime.host.writeOut(
      `\nSluice demo is running.\n  proxy:   ${url}   (try: curl ${url})\n` +
        (admin ? `  status:  ${admin}/\n  metrics: ${admin}/metrics\n  API:     ${admin}/api/v1/stats\n` : "") +
        `  backends: ${demo.backends.join(", ")}\nPress Ctrl-C to stop.\n\n`,
    );
  }

  const stopping = waitForSignal(runtime, () => {
    log.warn("shutdown.forced", {});
    log.flush();
    const exit = () => runtime.host.exit(EXIT.failed);
    // A pid file left behind would name a process that is gone, or later someone else.
    if (pidFile !== undefined) removePid(runtime.host, pidFile).then(exit, exit);
    else exit();
  });
  if (predecessor !== undefined) signalPredecessor(runtime.host, log, predecessor);
  // SIGHUP re-reads the file, as nginx and HAProxy users expect.
  const reloader = sluice.reloader;
  runtime.host.onSignal("SIGHUP", () => {
    if (command.source.type === "file") void reloader.reloadFile("signal");
    else log.warn("signal.ignored", { signal: "SIGHUP", reason: "started without a configuration file" });
  });
  const signal = await stopping;
  log.info("shutdown.start", { signal, drain_timeout_ms: sluice.config.drainTimeoutMs });
  await sluice.shutdown();
  if (pidFile !== undefined) await removePid(runtime.host, pidFile);
  await demo?.close();
  return EXIT.ok;
}

/** Resolves with the first SIGINT/SIGTERM; a second one calls `onSecond` (exit at once). */
function waitForSignal(runtime: Runtime, onSecond: () => void): Promise<string> {
  return new Promise((resolve) => {
    let received = false;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      runtime.host.onSignal(signal, () => {
        if (received) return onSecond();
        received = true;
        resolve(signal);
      });
    }
  });
}
