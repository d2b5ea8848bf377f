/**
 * The status page over a long run, in a real headless Chromium: DOM nodes and
 * JS heap stay flat over 1,800 refreshes at 10 ms. Node only: it measures the
 * browser side, which the serving runtime does not change. A file of its own
 * because it takes over a minute, and each file has its own time limit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { pageHarness } from "./helpers/page.ts";
import { runtimeName } from "./helpers/spawn.ts";

const { start, traffic, drive } = pageHarness();

test(
  "status page: DOM nodes and JS heap stay flat over 1,800 refreshes",
  // Its own limit: 1,800 refreshes take about 75 s on an idle machine, close to the suite's 120 s per test.
  { skip: runtimeName !== "node" ? "the browser side, measured once, in the Node run" : false, timeout: 300_000 },
  async () => {
    const { base, proxy } = await start();
    traffic(proxy, ["127.0.0.2", "127.0.0.3"]);
    const seen = await drive("soak", base, { refresh: 0.01, warm: 100, count: 1800 }, 300_000);
    assert.equal(seen.ok, true, seen.error);
    const { start: s, end: e } = seen;
    console.log(
      `soak: ${e.refreshes - s.refreshes} refreshes; DOM ${s.nodes} -> ${e.nodes} elements; ` +
        `heap ${(s.heap / 1e6).toFixed(2)} -> ${(e.heap / 1e6).toFixed(2)} MB; ${seen.charts} charts`,
    );
    assert.ok(e.refreshes - s.refreshes >= 1800);
    assert.ok(Math.abs(e.nodes - s.nodes) <= 20, `DOM elements ${s.nodes} -> ${e.nodes}`);
    assert.ok(e.heap - s.heap < 2e6, `JS heap ${s.heap} -> ${e.heap}`);
    assert.equal(seen.charts, 8, "one canvas per chart (2 total, 2 listener, 4 backend), none left behind");
    assert.deepEqual(seen.errors, []);
  },
);
