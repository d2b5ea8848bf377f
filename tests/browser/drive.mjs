// Drives a real headless Chromium (Debian's, through playwright-core) against a running Sluice status page
// and prints what it saw as one JSON line. Always run by Node, whichever runtime serves the page:
//   node tests/browser/drive.mjs <scenario> <base url> <screenshot dir> [json options]
// Scenarios: "page" (charts, refreshes, filter, drain, CSP, screenshots), "login", "soak" (DOM and heap over
// many refreshes). Every wait is bounded; the browser is closed whatever happens.
import { chromium } from "playwright-core";
import { join } from "node:path";

const [scenario, base, dir, raw] = process.argv.slice(2);
const options = raw ? JSON.parse(raw) : {};
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS, timeout: 30_000 });
const errors = [];

/** A page that records console errors, page errors and CSP violations. */
async function open(viewport, colorScheme, path = "/") {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.addInitScript(() => {
    globalThis.__csp = [];
    document.addEventListener(
      "securitypolicyviolation",
      (e) => globalThis.__csp.push(`${e.violatedDirective} at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`),
    );
  });
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()} at ${m.location().url}:${m.location().lineNumber}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  await page.goto(base + path);
  return page;
}

const refreshes = (page) => page.evaluate(() => Number(document.body.dataset.refreshes ?? 0));
async function waitRefreshes(page, n) {
  const start = await refreshes(page);
  await page.waitForFunction((want) => Number(document.body.dataset.refreshes ?? 0) >= want, start + n);
}

/** Pixels drawn (alpha > 0) in the canvas of each chart, by data-chart key. */
const inked = (page) =>
  page.evaluate(() => {
    const out = {};
    for (const el of document.querySelectorAll("[data-chart]")) {
      const canvas = el.querySelector("canvas");
      if (!canvas) {
        out[el.dataset.chart] = -1;
        continue;
      }
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      out[el.dataset.chart] = n;
    }
    return out;
  });

async function pageScenario() {
  const result = { screenshots: [] };
  const page = await open({ width: 1400, height: 900 }, "light");
  // Charts start once their history has two points.
  await page.waitForFunction(() =>
    [...document.querySelectorAll("[data-chart]")].every((el) => el.querySelector("canvas"))
  );
  await waitRefreshes(page, 1);
  // The same canvas node before and after refreshes: charts are moved, not re-created.
  await page.evaluate(() => {
    for (const c of document.querySelectorAll("[data-chart] canvas")) c.__mark = true;
  });
  const before = await page.textContent("#card-in .small");
  await waitRefreshes(page, 2);
  result.totalsBefore = before;
  result.totalsAfter = await page.textContent("#card-in .small");
  result.unmarkedCanvases = await page.evaluate(() =>
    [...document.querySelectorAll("[data-chart] canvas")].filter((c) => !c.__mark).length
  );
  result.inked = await inked(page);
  // Filter as you type: the table narrows to the typed source.
  result.rowsBefore = await page.locator("table.conns:not(.recent) tbody tr").count();
  await page.fill("#f-source", options.source);
  await page.waitForFunction(
    (s) =>
      [...document.querySelectorAll("table.conns:not(.recent) tbody tr")].every((tr) => tr.textContent.includes(s)),
    options.source,
  );
  result.filteredClients = await page.locator("table.conns:not(.recent) tbody tr code").allTextContents();
  result.filteredAfterRefresh = await (async () => {
    await waitRefreshes(page, 1);
    return page.locator("table.conns:not(.recent) tbody tr code").allTextContents();
  })();
  // Keyboard: focus a drain button, a refresh replaces its row, focus stays on the same button.
  const drain = page.locator(`[id^="act-"]`).first();
  await drain.focus();
  const focusedId = await page.evaluate(() => document.activeElement.id);
  await waitRefreshes(page, 1);
  result.focusKept = (await page.evaluate(() => document.activeElement.id)) === focusedId;
  // Drain from the page: the row turns to draining.
  const row = page.locator("tr", { has: page.locator(`text=${options.drain}`) }).first();
  await row.locator("button", { hasText: "Drain" }).click();
  await page.waitForFunction(
    (name) =>
      [...document.querySelectorAll("table.backends tbody tr")].some((tr) =>
        tr.textContent.includes(name) && /draining|drained/.test(tr.querySelector(".state")?.textContent ?? "")
      ),
    options.drain,
  );
  result.notice = await page.textContent("#notice");
  result.csp = await page.evaluate(() => globalThis.__csp);
  const shot = async (p, name) => {
    const path = join(dir, `${name}.png`);
    await p.screenshot({ path, fullPage: true });
    result.screenshots.push(path);
  };
  await shot(page, "desktop-light");
  for (
    const [name, viewport, scheme] of [
      ["desktop-dark", { width: 1400, height: 900 }, "dark"],
      ["phone-light", { width: 390, height: 844 }, "light"],
      ["phone-dark", { width: 390, height: 844 }, "dark"],
    ]
  ) {
    const p = await open(viewport, scheme);
    await waitRefreshes(p, 1);
    if (viewport.width === 390) result.phoneScrollWidth = await p.evaluate(() => document.documentElement.scrollWidth);
    await shot(p, name);
    result.csp.push(...(await p.evaluate(() => globalThis.__csp)));
  }
  return result;
}

async function loginScenario() {
  const page = await open({ width: 1000, height: 800 }, "light");
  const result = { landed: new URL(page.url()).pathname };
  await page.fill("#username", options.username);
  await page.fill("#password", options.password);
  await page.click("button[type=submit]");
  await page.waitForTimeout(3000);
  result.body = page.url() + (await page.content()).slice(0, 3000);
  await page.waitForSelector("#cards");
  result.after = new URL(page.url()).pathname;
  await waitRefreshes(page, 1);
  result.logout = await page.locator("form.logout button").count();
  await page.click("form.logout button");
  await page.waitForURL(/\/login/);
  result.afterLogout = new URL(page.url()).pathname;
  result.csp = await page.evaluate(() => globalThis.__csp);
  return result;
}

async function soakScenario() {
  const page = await open({ width: 1400, height: 900 }, "light", `/?refresh=${options.refresh}`);
  const cdp = await page.context().newCDPSession(page);
  const measure = async () => {
    await cdp.send("HeapProfiler.collectGarbage");
    const heap = await cdp.send("Runtime.getHeapUsage");
    const nodes = await page.evaluate(() => document.getElementsByTagName("*").length);
    return { heap: heap.usedSize, nodes, refreshes: await refreshes(page) };
  };
  await page.waitForFunction((n) => Number(document.body.dataset.refreshes ?? 0) >= n, options.warm, {
    timeout: 120_000,
  });
  const start = await measure();
  await page.waitForFunction((n) => Number(document.body.dataset.refreshes ?? 0) >= n, options.warm + options.count, {
    timeout: 240_000,
    polling: 500,
  });
  const end = await measure();
  return { start, end, charts: await page.evaluate(() => document.querySelectorAll("[data-chart] canvas").length) };
}

let out;
try {
  const run = { page: pageScenario, login: loginScenario, soak: soakScenario }[scenario];
  out = { ok: true, ...(await run()), errors };
} catch (error) {
  out = { ok: false, error: String(error?.stack ?? error), errors };
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
