/**
 * `npm run bench`: what each forwarder costs against `direct` (no proxy),
 * measured in one run on this machine. Repetitions are interleaved, each
 * starting one forwarder later (A B C, B C A, C A B), and medians are
 * reported with the ratio to `direct`.
 *
 * UDP loads (DNS) run only through the forwarders that carry datagrams.
 *
 *   npm run bench                      full run: 3 repetitions, 5 s per load
 *   npm run bench -- --quick           1 repetition, 2 s per load
 *   npm run bench -- --load dns        the DNS (UDP) loads only
 *   npm run bench -- --only bun        forwarders whose name contains "bun" (and direct); repeatable
 *   npm run bench -- --load stream     loads whose name contains "stream"; repeatable
 *   npm run bench -- --reps 5 --seconds 10
 *   npm run bench -- --baseline DIR    also run DIR/mod.ts (another checkout, e.g. a git worktree of
 *                                      the last commit with node_modules linked) as baseline-*,
 *                                      interleaved with this one: an A/B in one run
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { baselineForwarders, type Forwarder, FORWARDERS, forwards, NODE_FLAGS, ROOT } from "./forwarders.ts";
import { type Load, LOADS, type Measurement, startHttpBackend, startIperfServer } from "./loads.ts";
import { sampleRss, treeCpuSeconds } from "./procs.ts";
import { DNS_CLIENTS, DNS_TIMEOUT, startDnsBackend } from "./udp.ts";

interface Options {
  only: string[];
  load: string[];
  reps: number;
  seconds: number;
  baseline?: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { only: [], load: [], reps: 3, seconds: 5 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick") Object.assign(options, { reps: 1, seconds: 2 });
    else if (arg === "--only") options.only.push(argv[++i]);
    else if (arg === "--load") options.load.push(argv[++i]);
    else if (arg === "--reps") options.reps = Math.max(1, Number(argv[++i]));
    else if (arg === "--seconds") options.seconds = Math.max(1, Number(argv[++i]));
    else if (arg === "--baseline") options.baseline = argv[++i];
    else throw new Error(`unknown option ${arg}; see the top of bench/run.ts`);
  }
  return options;
}

/** One forwarder under one load, once. */
interface Sample extends Measurement {
  peakRss?: number;
  cpuPercent?: number;
  /** What the forwarder reported after the load (log problems, Sluice's UDP counters). */
  report?: string;
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(forwarder: Forwarder, load: Load, target: number, seconds: number): Promise<Sample> {
  const running = await forwarder.start(target, load.mode);
  try {
    const pid = running.pid;
    const rss = pid ? sampleRss(pid) : undefined;
    const cpuBefore = pid ? treeCpuSeconds(pid) : 0;
    const started = Date.now();
    const result = await load.run(running.port, seconds);
    const elapsed = (Date.now() - started) / 1000;
    const cpuAfter = pid ? treeCpuSeconds(pid) : 0;
    return {
      ...result,
      peakRss: rss?.stop(),
      cpuPercent: pid ? ((cpuAfter - cpuBefore) / elapsed) * 100 : undefined,
      report: await running.report?.(),
    };
  } finally {
    await running.stop();
  }
}

/** `items` rotated left by `by` places. */
function rotate<T>(items: T[], by: number): T[] {
  const k = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

const MiB = 1024 * 1024;
const digitsOf = (unit: Load["unit"]) => (unit === "Gbit/s" ? 2 : 0);
const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "–");

function table(forwarders: Forwarder[], loads: Load[], samples: Map<string, Sample[]>): string {
  const med = (f: string, l: string, pick: (s: Sample) => number | undefined) =>
    median(
      (samples.get(`${f}|${l}`) ?? []).map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v)),
    );
  // Latency, RSS and CPU are read from the keep-alive load, so they are shown only when it ran.
  const withKeepAlive = loads.some((l) => l.name === "keep-alive");
  // Each UDP load gets its own column of lost queries and CPU.
  const udpLoads = loads.filter((l) => l.mode.protocol === "udp");
  const head = [
    "forwarder",
    ...loads.map((l) => `${l.name} (${l.unit})`),
    ...(withKeepAlive ? ["p50 / p99 keep-alive", "peak RSS, 50 conns", "CPU, keep-alive"] : []),
    ...udpLoads.map((l) => `lost / CPU, ${l.name}`),
  ];
  // A forwarder that carries none of these loads (nginx ×1 is UDP only) gets no row.
  const shown = forwarders.filter((f) => loads.some((l) => forwards(f, l.mode.protocol)));
  const rows = shown.map((f) => {
    const cells = loads.map((l) => {
      if (!forwards(f, l.mode.protocol)) return "n/a";
      const value = med(f.name, l.name, (s) => s.value);
      const direct = med("direct", l.name, (s) => s.value);
      const digits = digitsOf(l.unit);
      return f.name === "direct" ? fmt(value, digits) : `${fmt(value, digits)} (${fmt(value / direct)}×)`;
    });
    const udpCells = udpLoads.map((l) => {
      if (!forwards(f, l.mode.protocol)) return "n/a";
      const lost = med(f.name, l.name, (s) => s.lost);
      const cpu = med(f.name, l.name, (s) => s.cpuPercent);
      return `${fmt(lost)}% / ${Number.isFinite(cpu) ? `${fmt(cpu, 0)}%` : "–"}`;
    });
    const p50 = med(f.name, "keep-alive", (s) => s.p50);
    const p99 = med(f.name, "keep-alive", (s) => s.p99);
    const rss = med(f.name, "keep-alive", (s) => s.peakRss);
    const cpu = med(f.name, "keep-alive", (s) => s.cpuPercent);
    const extra = [
      `${fmt(p50)} / ${fmt(p99)} ms`,
      Number.isFinite(rss) ? `${fmt(rss / MiB, 0)} MiB` : "–",
      Number.isFinite(cpu) ? `${fmt(cpu, 0)}%` : "–",
    ];
    return [f.name, ...cells, ...(withKeepAlive ? extra : []), ...udpCells];
  });
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const notes: string[] = [];
  const all = [...FORWARDERS, ...(options.baseline ? baselineForwarders(options.baseline) : [])];
  const forwarders = all.filter((f) =>
    f.name === "direct" || options.only.length === 0 || options.only.some((o) => f.name.includes(o))
  ).filter((f) => {
    const missing = f.missing();
    if (missing) notes.push(`skipped ${f.name}: ${missing}`);
    return !missing;
  });
  const loads = LOADS.filter((l) => options.load.length === 0 || options.load.some((o) => l.name.includes(o))).filter(
    (l) => {
      const missing = l.missing();
      if (missing) notes.push(`skipped load "${l.name}": ${missing}`);
      return !missing;
    },
  );
  const iperfServer = loads.some((l) => l.backend === "iperf3") ? await startIperfServer() : undefined;
  const httpBackend = loads.some((l) => l.backend === "http") ? await startHttpBackend() : undefined;
  const dnsBackend = loads.some((l) => l.backend === "dns") ? await startDnsBackend() : undefined;
  if (httpBackend) {
    notes.push(
      `HTTP backend: ${httpBackend.kind}, 1 worker; wrk -t2 -c50 for ${options.seconds}s; iperf3 for ${options.seconds}s`,
    );
  }
  if (dnsBackend) {
    const tcpOnly = forwarders.filter((f) => !forwards(f, "udp")).map((f) => f.name);
    notes.push(
      `DNS backend: dnsmasq (one thread, no upstream, no cache) answering *.bench.test; dnsperf -c ${DNS_CLIENTS} -t ${DNS_TIMEOUT} (100 queries in flight) for ${options.seconds}s; "dns udp" keeps ${DNS_CLIENTS} long-lived sessions, "dns udp 1/query" ends a session per reply (Sluice \`responses = 1\` from a config file, nginx \`proxy_responses 1\`; direct unchanged); nginx UDP: \`listen ... udp\` without reuseport, \`proxy_timeout 10s\`${
        tcpOnly.length ? `; TCP only, not run on UDP loads: ${tcpOnly.join(", ")}` : ""
      }`,
    );
  }
  notes.push(
    `Sluice runs from mod.ts with the admin server and per-connection info logs on (written to a file); on Node with ${
      NODE_FLAGS.join(" ")
    } as the README says`,
  );

  const samples = new Map<string, Sample[]>();
  const started = Date.now();
  try {
    for (let rep = 1; rep <= options.reps; rep++) {
      for (const load of loads) {
        const target = load.backend === "iperf3"
          ? iperfServer!.port
          : load.backend === "dns"
          ? dnsBackend!.port
          : httpBackend!.port;
        // Each repetition starts one forwarder later: whichever runs right after `direct`
        // measured ~6% low in keep-alive (not a matter of settle time), so no forwarder
        // may hold that place in every repetition.
        const carriers = forwarders.filter((f) => forwards(f, load.mode.protocol));
        for (const forwarder of rotate(carriers, rep - 1)) {
          const key = `${forwarder.name}|${load.name}`;
          try {
            const sample = await measure(forwarder, load, target, options.seconds);
            if (sample.errors > 0) {
              notes.push(
                `${forwarder.name}, ${load.name}, run ${rep}: ${sample.errors} errors reported by the load generator`,
              );
            }
            if (sample.report) notes.push(`${forwarder.name}, ${load.name}, run ${rep}: ${sample.report}`);
            samples.set(key, [...(samples.get(key) ?? []), sample]);
            console.error(
              `[${rep}/${options.reps}] ${load.name.padEnd(17)} ${forwarder.name.padEnd(18)} ${
                sample.value.toFixed(digitsOf(load.unit))
              } ${load.unit}${sample.lost ? `, ${sample.lost.toFixed(2)}% lost` : ""}${
                sample.cpuPercent !== undefined ? `, CPU ${sample.cpuPercent.toFixed(0)}%` : ""
              }`,
            );
          } catch (error) {
            notes.push(
              `${forwarder.name}, ${load.name}, run ${rep} failed: ${(error as Error).message.split("\n")[0]}`,
            );
            console.error(
              `[${rep}/${options.reps}] ${load.name} ${forwarder.name} FAILED: ${(error as Error).message}`,
            );
          }
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    }
  } finally {
    await iperfServer?.stop();
    await httpBackend?.stop();
    await dnsBackend?.stop();
  }

  const cpus = readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm)?.length ?? "?";
  const when = new Date().toISOString();
  const report = [
    `## Sluice forwarding benchmark, ${when}`,
    "",
    `${cpus} CPUs; medians of ${options.reps} interleaved run(s), the order rotated each time; ratios are to \`direct\` in the same run; RSS and CPU are the forwarder's whole process tree. Took ${
      ((Date.now() - started) / 60000).toFixed(1)
    } min.`,
    "",
    table(forwarders, loads, samples),
    "",
    ...notes.map((n) => `- ${n}`),
    "",
  ].join("\n");
  console.log("\n" + report);

  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const lastPath = join(dir, "last.json");
  if (existsSync(lastPath)) console.log(compareWithLast(JSON.parse(readFileSync(lastPath, "utf8")), samples));
  const partial = options.only.length > 0 || options.load.length > 0 || options.baseline !== undefined;
  // Named by the minute; a second run within the same minute gets the seconds rather than overwriting the first.
  const named = (stamp: string) => join(dir, `${stamp.replace(/:/g, "-")}${partial ? "-partial" : ""}.md`);
  writeFileSync(existsSync(named(when.slice(0, 16))) ? named(when.slice(0, 19)) : named(when.slice(0, 16)), report);
  // A partial run is compared with the last full one but does not replace it.
  if (!partial) {
    writeFileSync(lastPath, JSON.stringify({ when, options, samples: Object.fromEntries(samples) }, null, 1));
  }
}

/** Lists medians that moved by more than 5% since the last recorded run. */
function compareWithLast(
  last: { when: string; samples: Record<string, Sample[]> },
  samples: Map<string, Sample[]>,
): string {
  const lines: string[] = [];
  for (const [key, now] of samples) {
    const before = last.samples[key];
    if (!before?.length) continue;
    const [a, b] = [median(before.map((s) => s.value)), median(now.map((s) => s.value))];
    const change = (b - a) / a;
    if (Math.abs(change) > 0.05) {
      lines.push(
        `- ${key.replace("|", ", ")}: ${a.toFixed(2)} -> ${b.toFixed(2)} (${change > 0 ? "+" : ""}${
          (change * 100).toFixed(0)
        }%)`,
      );
    }
  }
  return lines.length
    ? `\nCompared with the last run (${last.when}), moved more than 5%:\n${lines.join("\n")}\n`
    : `\nNothing moved more than 5% since the last run (${last.when}).\n`;
}

await main();
