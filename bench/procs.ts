/**
 * Memory and CPU of a process and its descendants, read from /proc (Linux),
 * so multi-process peers (nginx workers, socat forks) are measured whole.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The pid and every live descendant. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${all[i]}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      const children = read(`/proc/${all[i]}/task/${task}/children`);
      if (children) { for (const child of children.trim().split(/\s+/).filter(Boolean)) all.push(Number(child)); }
    }
  }
  return all;
}

/** Resident memory of the whole tree, in bytes. */
export function treeRss(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    const status = read(`/proc/${p}/status`);
    const m = status?.match(/^VmRSS:\s+(\d+) kB/m);
    if (m) total += Number(m[1]) * 1024;
  }
  return total;
}

/** CPU seconds used by the tree so far, including reaped children (socat's per-connection forks). */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const stat = read(`/proc/${p}/stat`);
    if (!stat) continue;
    // Fields after the command name (which may contain spaces): state is field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]) + (p === pid ? Number(fields[13]) + Number(fields[14]) : 0);
  }
  return ticks / TICKS_PER_SECOND;
}

/** Samples the tree's RSS every `everyMs` until stopped; returns the peak. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number } {
  let peak = treeRss(pid);
  const timer = setInterval(() => (peak = Math.max(peak, treeRss(pid))), everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, treeRss(pid));
    },
  };
}
