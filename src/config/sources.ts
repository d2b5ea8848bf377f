/**
 * Builds the configuration document from where it comes from (a TOML file,
 * quick-mode arguments, the demo) and applies command-line overrides, then
 * validates it with the one schema.
 *
 * @module
 */
import type { EnvCredentials } from "./admin.ts";
import { loadObject, type LoadResult, parseTomlDocument } from "./load.ts";
import type { BalancerName, LogFormat, LogLevel } from "./schema.ts";

/** Settings given as flags; they override the configuration file. */
export interface Overrides {
  admin?: string | false;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
  workers?: number;
  /** Admin credentials from the environment ({@linkcode envCredentials}); they override the file's. */
  credentials?: EnvCredentials;
}

/** `WEB_USERNAME` and `WEB_PASSWORD` (empty counts as unset), read through the runtime's `env`. */
export function envCredentials(env: (name: string) => string | undefined): EnvCredentials {
  return { username: env("WEB_USERNAME") || undefined, password: env("WEB_PASSWORD") || undefined };
}

/** Quick-mode settings: one listener built from arguments. */
export interface QuickListener {
  listen: string;
  backends: { address: string; weight: number }[];
  balance?: BalancerName;
  connectTimeout?: string | number;
  idleTimeout?: string | number;
  retries?: number;
  /** `--udp`: the quick listener forwards datagrams. */
  udp?: boolean;
}

/** Where the configuration comes from. */
export type ConfigSource = { type: "file"; path: string } | { type: "quick"; listener: QuickListener } | {
  type: "demo";
  /** Where the demo listener binds instead of 127.0.0.1:8080. */
  listen?: string;
};

/** A document as TOML would give it: nested plain objects. */
export type Document = Record<string, unknown>;

/** What reading a source needs: the file reader, and the demo's backend addresses. */
export interface SourceContext {
  readTextFile(path: string): Promise<string>;
  /** This machine's interface addresses, for the self-loop check. */
  localHosts?: readonly string[];
  /** Addresses of the demo's built-in backends (only for `--demo`). */
  demoBackends?: readonly string[];
}

/**
 * Result of loading a source; `origin` names it in messages (`sluice.toml`,
 * `command line`). `document` is what the source said, before overrides:
 * what a reload edits and what is written back to the file.
 */
export type SourceResult = LoadResult & { origin: string; document?: Document; text?: string };

/**
 * Reads, overrides and validates a configuration source.
 *
 * @example
 * ```ts
 * const r = await loadSource({ type: "file", path: "sluice.toml" }, {}, { readTextFile });
 * if (!r.ok) for (const i of r.issues) console.error(formatIssue(r.origin, i));
 * ```
 */
export async function loadSource(
  source: ConfigSource,
  overrides: Overrides,
  context: SourceContext,
): Promise<SourceResult> {
  let document: Document;
  let origin: string;
  if (source.type === "file") {
    origin = source.path;
    let text: string;
    try {
      text = await context.readTextFile(source.path);
    } catch (error) {
      return { ok: false, origin, issues: [{ path: "", message: `cannot read file: ${(error as Error).message}` }] };
    }
    const parsed = parseTomlDocument(text);
    if (!parsed.ok) return { ...parsed, origin };
    return { ...loadDocument(parsed.document, overrides, context, origin), text };
  } else if (source.type === "quick") {
    origin = "command line";
    document = { listeners: [quickListener(source.listener)] };
  } else {
    origin = "demo";
    document = demoDocument(context.demoBackends ?? [], source.listen);
  }
  return loadDocument(document, overrides, context, origin);
}

/** Validates a document (a source's, or one given through the admin API) with the overrides applied. */
export function loadDocument(
  document: Document,
  overrides: Overrides,
  context: Pick<SourceContext, "localHosts">,
  origin: string,
): SourceResult {
  const options = { localHosts: context.localHosts, credentials: overrides.credentials };
  return { ...loadObject(applyOverrides(document, overrides), options), origin, document };
}

function quickListener(quick: QuickListener): Document {
  const listener: Document = {
    listen: quick.listen,
    backends: quick.backends.map((b) => ({ address: b.address, weight: b.weight })),
  };
  if (quick.balance) listener.balance = quick.balance;
  if (quick.connectTimeout !== undefined) listener.connect_timeout = quick.connectTimeout;
  if (quick.idleTimeout !== undefined) listener.idle_timeout = quick.idleTimeout;
  if (quick.retries !== undefined) listener.retries = quick.retries;
  if (quick.udp) listener.protocol = "udp";
  return listener;
}

/** The demo: one listener (127.0.0.1:8080 unless given) in front of the built-in backends, weighted 1:1:2. */
function demoDocument(backends: readonly string[], listen = "127.0.0.1:8080"): Document {
  return {
    drain_timeout: "2s",
    listeners: [{
      name: "demo",
      listen,
      balance: "weighted",
      idle_timeout: "30s",
      backends: backends.map((address, i) => ({
        address,
        name: `demo-${i + 1}`,
        weight: i === backends.length - 1 ? 2 : 1,
      })),
    }],
  };
}

function applyOverrides(document: Document, overrides: Overrides): Document {
  const out: Document = { ...document };
  const section = (key: string) => ({
    ...(typeof out[key] === "object" && out[key] !== null ? out[key] as Document : {}),
  });
  if (overrides.logLevel || overrides.logFormat) {
    const log = section("log");
    if (overrides.logLevel) log.level = overrides.logLevel;
    if (overrides.logFormat) log.format = overrides.logFormat;
    out.log = log;
  }
  if (overrides.admin !== undefined) {
    const admin = section("admin");
    if (overrides.admin === false) admin.enabled = false;
    else {
      admin.enabled = true;
      admin.listen = overrides.admin;
    }
    out.admin = admin;
  }
  if (overrides.workers !== undefined) out.workers = overrides.workers;
  return out;
}
