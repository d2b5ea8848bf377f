/**
 * `/metrics` checked the way Prometheus reads it: `promtool check metrics`
 * (Debian's prometheus package; `.ci/run` installs it) parses the exposition
 * with Prometheus's own parser and lints it.
 */
import { spawn } from "node:child_process";

/** Runs `promtool check metrics` on `text`; resolves with its exit code and output. */
export function promtool(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (d: Uint8Array) => (output += new TextDecoder().decode(d)));
    child.stderr!.on("data", (d: Uint8Array) => (output += new TextDecoder().decode(d)));
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    child.on("error", (error) => resolve({ code: -1, output: `cannot run promtool: ${error.message}` }));
    child.stdin!.end(text);
  });
}
