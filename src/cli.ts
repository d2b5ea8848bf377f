/**
 * Command-line arguments -> a {@linkcode Command}. Pure: no I/O here.
 *
 * @module
 */
import { parseDuration } from "./config/duration.ts";
import {
  BALANCER_NAMES,
  type BalancerName,
  DEFAULT_ADMIN,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
} from "./config/schema.ts";
import type { ConfigSource, Overrides, QuickListener } from "./config/sources.ts";
import { parseAddress } from "./net/address.ts";

/** What the command line asks for. */
export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "usage-error"; message: string }
  | { kind: "hash-password" }
  | { kind: "run" | "validate"; source: ConfigSource; overrides: Overrides; instance: InstanceOptions };

/** How this process relates to others: its pid file, and whether it takes over from the one named there. */
export interface InstanceOptions {
  /** Written with this process's pid once it serves; removed on exit. */
  readonly pidFile?: string;
  /** Bind beside the running instance named by `pidFile`, then send it SIGTERM so it drains. */
  readonly takeover: boolean;
  /** Reload when the configuration file changes (off with `--no-watch`; SIGHUP and the API still reload). */
  readonly watch: boolean;
}

/** The `--help` text. */
export const USAGE = `Sluice: an L4 (TCP and UDP) proxy and load balancer.

Usage:
  sluice [options] LISTEN BACKEND [BACKEND...]   forward LISTEN to the backends (quick mode)
  sluice -c FILE [options]                        run from a TOML configuration file
  sluice -c FILE --validate                       check a configuration file and exit
  sluice --demo [LISTEN]                          built-in backends, a listener (127.0.0.1:8080) and light traffic
  sluice hash-password                            read a password on standard input, print the line
                                                  for [admin] password_hash

  LISTEN   [host:]port          host defaults to 0.0.0.0
  BACKEND  host:port[@weight]   IPv6 as [::1]:80

Options:
  -c, --config FILE         TOML configuration file
  -t, --validate            check the configuration, print every error, exit 0 (valid) or 1
  -b, --balance NAME        ${BALANCER_NAMES.join(" | ")} (quick mode; default weighted)
      --connect-timeout D   e.g. 5s (quick mode)
      --idle-timeout D      e.g. 10m, 0 for none (quick mode)
      --retries N           further backends tried after a failed connect (quick mode)
      --udp                 the quick listener forwards UDP datagrams (sessions per client address)
      --admin ADDR|off      admin API and metrics address (default ${DEFAULT_ADMIN})
      --workers N           listener threads sharing each port (default 1)
      --pid-file FILE       write this process's pid to FILE while it runs
      --takeover            bind beside the instance whose pid is in --pid-file, then
                            send it SIGTERM so it drains (zero-downtime upgrade)
      --no-watch            do not reload when the configuration file changes
                            (SIGHUP and POST /api/v1/config/reload still do)
      --log-format FORMAT   text | json
      --log-level LEVEL     debug | info | warn | error
      --demo                run the built-in demo
  -V, --version             print the version
  -h, --help                print this help
`;

const WITH_VALUE = new Set([
  "-c",
  "--config",
  "-b",
  "--balance",
  "--connect-timeout",
  "--idle-timeout",
  "--retries",
  "--admin",
  "--log-format",
  "--log-level",
  "--workers",
  "--pid-file",
]);

/**
 * Parses arguments (without the program name).
 *
 * @example
 * ```ts
 * parseArgs([":8080", "10.0.0.5:80", "10.0.0.6:80@3"]);
 * // { kind: "run", source: { type: "quick", listener: { listen: ":8080", backends: [...] } }, overrides: {} }
 * ```
 */
export function parseArgs(args: readonly string[]): Command {
  if (args[0] === "hash-password") {
    if (args.length === 1) return { kind: "hash-password" };
    return usageError("hash-password takes no arguments; it reads the password from standard input");
  }
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || /^-\d/.test(arg)) {
      positional.push(arg);
      continue;
    }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (WITH_VALUE.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) return usageError(`${name} needs a value`);
      flags.set(name, value);
    } else if (
      ["-h", "--help", "-V", "--version", "-t", "--validate", "--demo", "--takeover", "--udp", "--no-watch"].includes(
        name,
      ) && eq < 0
    ) {
      switches.add(name);
    } else {
      return usageError(`unknown option ${arg}`);
    }
  }
  if (switches.has("-h") || switches.has("--help")) return { kind: "help" };
  if (switches.has("-V") || switches.has("--version")) return { kind: "version" };

  const overrides = parseOverrides(flags);
  if (typeof overrides === "string") return usageError(overrides);
  const kind = switches.has("-t") || switches.has("--validate") ? "validate" : "run";
  const instance: InstanceOptions = {
    pidFile: flags.get("--pid-file"),
    takeover: switches.has("--takeover"),
    watch: !switches.has("--no-watch"),
  };
  if (instance.takeover && instance.pidFile === undefined) {
    return usageError("--takeover needs --pid-file FILE, where the running instance wrote its pid");
  }
  const file = flags.get("-c") ?? flags.get("--config");
  const quickFlags = ["-b", "--balance", "--connect-timeout", "--idle-timeout", "--retries"].filter((f) =>
    flags.has(f)
  );

  if (switches.has("--demo")) {
    if (file !== undefined || positional.length > 1) {
      return usageError("--demo takes no configuration file and at most one LISTEN address");
    }
    return { kind, source: { type: "demo", listen: positional[0] }, overrides, instance };
  }
  if (file !== undefined) {
    if (positional.length > 0) {
      return usageError(`give either -c FILE or LISTEN BACKEND..., not both (got ${positional.join(" ")})`);
    }
    if (quickFlags.length > 0) {
      return usageError(`${quickFlags[0]} applies to quick mode only; set it in the configuration file`);
    }
    return { kind, source: { type: "file", path: file }, overrides, instance };
  }
  if (positional.length === 0) {
    return usageError("nothing to do: give LISTEN BACKEND..., -c FILE or --demo (see --help)");
  }
  if (positional.length < 2) return usageError("quick mode needs LISTEN and at least one BACKEND");
  const quick = parseQuick(positional, flags);
  if (typeof quick === "string") return usageError(quick);
  if (switches.has("--udp")) {
    if (quick.retries !== undefined || quick.connectTimeout !== undefined) {
      return usageError("--retries and --connect-timeout apply to TCP; a --udp listener has neither");
    }
    quick.udp = true;
  }
  return { kind, source: { type: "quick", listener: quick }, overrides, instance };
}

function usageError(message: string): Command {
  return { kind: "usage-error", message };
}

function parseOverrides(flags: Map<string, string>): Overrides | string {
  const overrides: Overrides = {};
  const admin = flags.get("--admin");
  if (admin !== undefined) {
    if (admin === "off") overrides.admin = false;
    else {
      const parsed = parseAddress(admin, { defaultHost: "127.0.0.1", allowPortZero: true });
      if (!parsed.ok) return `--admin: ${parsed.reason}`;
      overrides.admin = admin;
    }
  }
  const level = flags.get("--log-level");
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      return `--log-level: expected one of ${LOG_LEVELS.join(", ")}; got "${level}"`;
    }
    overrides.logLevel = level as LogLevel;
  }
  const format = flags.get("--log-format");
  if (format !== undefined) {
    if (!(LOG_FORMATS as readonly string[]).includes(format)) {
      return `--log-format: expected one of ${LOG_FORMATS.join(", ")}; got "${format}"`;
    }
    overrides.logFormat = format as LogFormat;
  }
  const workers = flags.get("--workers");
  if (workers !== undefined) {
    if (!/^\d+$/.test(workers) || +workers < 1 || +workers > 256) {
      return `--workers: expected a whole number from 1 to 256; got "${workers}"`;
    }
    overrides.workers = Number(workers);
  }
  return overrides;
}

function parseQuick(positional: string[], flags: Map<string, string>): QuickListener | string {
  const [listen, ...rest] = positional;
  const listenParsed = parseAddress(listen, { defaultHost: "0.0.0.0", allowPortZero: true });
  if (!listenParsed.ok) return `LISTEN: ${listenParsed.reason}`;
  const backends: QuickListener["backends"] = [];
  for (const text of rest) {
    const at = text.lastIndexOf("@");
    const address = at > 0 ? text.slice(0, at) : text;
    const weightText = at > 0 ? text.slice(at + 1) : "1";
    const parsed = parseAddress(address);
    if (!parsed.ok) return `BACKEND ${JSON.stringify(text)}: ${parsed.reason}`;
    if (!/^\d+$/.test(weightText) || +weightText < 1 || +weightText > 1000) {
      return `BACKEND ${JSON.stringify(text)}: weight must be a whole number from 1 to 1000, got "${weightText}"`;
    }
    backends.push({ address, weight: Number(weightText) });
  }
  const quick: QuickListener = { listen, backends };
  const balance = flags.get("-b") ?? flags.get("--balance");
  if (balance !== undefined) {
    if (!(BALANCER_NAMES as readonly string[]).includes(balance)) {
      return `--balance: expected one of ${BALANCER_NAMES.join(", ")}; got "${balance}"`;
    }
    quick.balance = balance as BalancerName;
  }
  for (const [flag, key] of [["--connect-timeout", "connectTimeout"], ["--idle-timeout", "idleTimeout"]] as const) {
    const value = flags.get(flag);
    if (value === undefined) continue;
    // On the command line a bare number means seconds, as it does in TOML.
    const asNumber = /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
    const parsed = parseDuration(asNumber);
    if (!parsed.ok) return `${flag}: ${parsed.reason}`;
    quick[key] = asNumber;
  }
  const retries = flags.get("--retries");
  if (retries !== undefined) {
    if (!/^\d+$/.test(retries) || +retries > 10) {
      return `--retries: expected a whole number from 0 to 10; got "${retries}"`;
    }
    quick.retries = Number(retries);
  }
  return quick;
}
