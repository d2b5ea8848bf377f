/**
 * The status page in a real headless Chromium, driven from Node
 * (`tests/browser/drive.mjs`) while this runtime serves the page: charts
 * draw and are kept across refreshes, numbers move, the filter narrows the
 * connections table, Drain drains (and the API agrees), focus survives a
 * refresh, a login is asked for when credentials are set, no console errors
 * or CSP violations, no horizontal scroll at 390 px, and screenshots at
 * desktop and phone width, light and dark. The soak is in
 * `status-page-soak.test.ts`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { hashPassword } from "../src/admin/password.ts";
import { pageHarness } from "./helpers/page.ts";
import { runtimeName } from "./helpers/spawn.ts";

const { start, traffic, drive } = pageHarness();

test(`status page in Chromium, served by ${runtimeName}: charts, refresh, filter, drain, CSP, phone width`, async () => {
  const { base, proxy } = await start();
  traffic(proxy, ["127.0.0.2", "127.0.0.3", "127.0.0.3", "127.0.0.4"]);
  const seen = await drive("page", base, { source: "127.0.0.3", drain: "alpha" }, 90_000);
  assert.equal(seen.ok, true, seen.error);
  console.log(`screenshots (${runtimeName}): ${seen.screenshots.join(" ")}`);
  assert.deepEqual(seen.csp, [], "no CSP violations");
  assert.deepEqual(seen.errors, [], "no console errors");
  assert.notEqual(seen.totalsAfter, seen.totalsBefore, "the totals move between refreshes");
  assert.equal(seen.unmarkedCanvases, 0, "no chart re-created by a refresh");
  // Every chart drew: the total's and both busy sparklines have ink.
  for (const key of ["total|bytes", "total|conns"]) assert.ok(seen.inked[key] > 100, `${key} drew`);
  const sparks = Object.entries(seen.inked as Record<string, number>).filter(([k]) => k.startsWith("b:"));
  assert.equal(sparks.length, 4, "two sparklines per backend");
  assert.ok(sparks.some(([k, n]) => k.endsWith("|bytes") && n > 0), "a backend's throughput sparkline drew");
  assert.ok(seen.rowsBefore >= 4, `all connections listed before filtering (${seen.rowsBefore})`);
  assert.equal(seen.filteredClients.length, 2);
  assert.ok(seen.filteredClients.every((c: string) => c.startsWith("127.0.0.3:")));
  assert.deepEqual(seen.filteredAfterRefresh.length, 2, "the filter holds across refreshes");
  assert.equal(seen.focusKept, true, "focus stays on the same button across a refresh");
  assert.match(seen.notice, /Drain alpha in web: done/);
  assert.ok(seen.phoneScrollWidth <= 390, `no horizontal scroll at 390 px (${seen.phoneScrollWidth})`);
  const stats = await (await fetch(`${base}/api/v1/stats`)).json();
  const alpha = stats.listeners[0].backends.find((b: { name: string }) => b.name === "alpha");
  assert.match(alpha.state, /^(draining|drained)$/, "the API agrees");
});

test(`status page asks for a login when credentials are set (${runtimeName})`, async () => {
  const { base } = await start({ username: "ops", password_hash: await hashPassword("pw for page", 1000) });
  const seen = await drive("login", base, { username: "ops", password: "pw for page" }, 60_000);
  assert.equal(seen.ok, true, seen.error + JSON.stringify(seen));
  assert.equal(seen.landed, "/login");
  assert.equal(seen.after, "/");
  assert.equal(seen.logout, 1);
  assert.equal(seen.afterLogout, "/login");
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.csp, []);
});

test(`status page refuses bad query parameters with a JSON reason, as the API does (${runtimeName})`, async () => {
  const { base } = await start();
  const checks: [string, RegExp][] = [
    ["/?window=2d", /window must be one of 5m, 1h, 24h, got "2d"/],
    ["/?window=toString", /window must be one of/],
    ["/?refresh=-1", /refresh must be 0 \(off\) or seconds/],
    ["/?refresh=1e3", /refresh must be 0 \(off\) or seconds/],
    ["/?sauce=1", /unknown query parameter "sauce"/],
    ["/ui/live?window=1d", /window must be one of/],
    ["/ui/connections?sort=size", /sort must be one of bytes, duration, got "size"/],
  ];
  for (const [path, error] of checks) {
    const response = await fetch(`${base}${path}`);
    assert.equal(response.status, 400, path);
    assert.match((await response.json()).error, error, path);
  }
  assert.equal((await fetch(`${base}/?window=1h&refresh=0`)).status, 200);
  // The filter box is typed into: what is not an address or block filters by text, so it is no error.
  assert.equal((await fetch(`${base}/ui/connections?sort=bytes&source=10.0.0.0/33`)).status, 200);
});
