// The status page's own script, served as a file because the page's CSP runs no inline script.
// It keeps the refresh loop (paused while the tab is hidden), keeps each uPlot chart alive across
// the swaps that replace its placeholder, sends the JSON forms, and shows what an action did.
// htmx and uPlot are loaded before it (all three are deferred, so they run in order).
(() => {
  "use strict";
  const body = document.body;
  const live = document.getElementById("live");
  const every = Number(body.dataset.refreshMs) || 0;
  let timer = 0;
  let busy = false;
  let again = false;
  let refreshes = 0;
  let kept = null;
  let watchdog = 0;

  // ---- refresh loop: one request at a time, the next one scheduled when the last is done

  function refresh() {
    clearTimeout(timer);
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    htmx.trigger(live, "sluice-refresh");
    // Should htmx never send it (or never answer), the loop must not stop for good.
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      if (!busy) return;
      busy = false;
      schedule();
    }, Math.max(30_000, every * 5));
  }

  function schedule() {
    clearTimeout(timer);
    if (every > 0 && !document.hidden) timer = setTimeout(refresh, every);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) clearTimeout(timer);
    else if (every > 0) refresh();
  });

  // ---- charts: created once per key, moved into each new placeholder, destroyed when their entity goes

  const charts = new Map();
  /** Each big chart's ResizeObserver, so that it follows the chart into a new placeholder and ends with it. */
  const sizers = new Map();
  const palette = {};
  const dark = matchMedia("(prefers-color-scheme: dark)");

  function readPalette() {
    const style = getComputedStyle(body);
    for (const name of ["in", "out", "open", "new", "axis", "grid"]) {
      palette[name] = style.getPropertyValue(`--c-${name}`).trim();
    }
  }
  readPalette();
  dark.addEventListener("change", () => {
    readPalette();
    for (const chart of charts.values()) chart.redraw(false, true);
  });

  const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
  function bytes(n) {
    if (n == null) return "–";
    let value = n;
    let unit = 0;
    while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
      value /= 1024;
      unit++;
    }
    return `${unit ? value.toPrecision(3) : Math.round(value)} ${UNITS[unit]}/s`;
  }
  const plain = (n) => (n == null ? "–" : String(Math.round(n * 10) / 10));

  /** The chart's columns: times, then one array per line. */
  function columns(s, kind) {
    const n = s.active.length;
    const x = new Array(n);
    for (let i = 0; i < n; i++) x[i] = s.t0 + i * s.step;
    if (kind === "bytes") return s.bytes ? [x, s.bytes] : [x, s.in, s.out];
    return s.new ? [x, s.active, s.new] : [x, s.active];
  }

  function make(el, kind, data) {
    const big = el.closest("figure") !== null;
    const names = kind === "bytes" ? (data.length === 3 ? ["in", "out"] : ["bytes"]) : ["open", "new"];
    const colors = kind === "bytes" ? (data.length === 3 ? ["in", "out"] : ["in"]) : ["open", "new"];
    const format = kind === "bytes" ? bytes : plain;
    const series = [{}];
    for (let i = 1; i < data.length; i++) {
      const color = colors[i - 1];
      series.push({
        label: kind === "bytes" ? names[i - 1] : ["open", "new/s"][i - 1],
        stroke: () => palette[color],
        width: big ? 1.5 : 1,
        points: { show: false },
        value: (_, v) => format(v),
      });
    }
    const axis = { stroke: () => palette.axis, grid: { stroke: () => palette.grid, width: 1 }, ticks: { show: false } };
    const options = {
      width: Math.max(60, el.clientWidth),
      height: big ? 150 : 26,
      legend: { show: big },
      cursor: big ? { points: { show: false } } : { show: false },
      select: { show: false },
      scales: { x: { time: true }, y: { range: (_, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: big
        ? [axis, { ...axis, size: 70, values: (_, ticks) => ticks.map(format) }]
        : [{ show: false }, { show: false }],
      series,
    };
    const chart = new uPlot(options, data, el);
    if (big) {
      // Watches the chart's current placeholder: each swap brings a new one (see adopt), the old is let go.
      const sizer = new ResizeObserver((entries) =>
        chart.setSize({ width: entries[0].target.clientWidth, height: 150 })
      );
      sizer.observe(el);
      sizers.set(chart, sizer);
    }
    return chart;
  }

  function adopt() {
    const block = document.getElementById("chart-data");
    if (!block) return;
    let data;
    try {
      data = JSON.parse(block.textContent);
    } catch {
      return;
    }
    const seen = new Set();
    for (const el of document.querySelectorAll("[data-chart]")) {
      const key = el.dataset.chart;
      const cut = key.lastIndexOf("|");
      const s = data.series[key.slice(0, cut)];
      if (!s) continue;
      const kind = key.slice(cut + 1);
      const cols = columns(s, kind);
      let chart = charts.get(key);
      seen.add(key);
      if (!chart) {
        // uPlot fixes its scales from the first data it gets: with fewer than two points it never recovers.
        if (cols[0].length < 2) continue;
        chart = make(el, kind, cols);
        charts.set(key, chart);
      } else {
        if (chart.root.parentNode !== el) {
          el.replaceChildren(chart.root);
          sizers.get(chart)?.disconnect();
          sizers.get(chart)?.observe(el);
        }
        chart.setData(cols);
      }
    }
    for (const [key, chart] of charts) {
      if (!seen.has(key)) {
        sizers.get(chart)?.disconnect();
        sizers.delete(chart);
        chart.destroy();
        charts.delete(key);
      }
    }
  }

  // ---- forms whose fields name a JSON shape: "a.b" nests, ":number" and ":addresses" convert

  htmx.defineExtension("sluice-json", {
    onEvent(name, event) {
      if (name !== "htmx:configRequest") return;
      event.detail.headers["Content-Type"] = "application/json";
      const params = event.detail.parameters;
      if (params.get("persist") === "true") event.detail.path += "?persist=true";
    },
    encodeParameters(xhr, params) {
      xhr.overrideMimeType("text/json");
      const out = {};
      for (const [name, raw] of params.entries()) {
        if (name === "persist") continue;
        const [path, type] = name.split(":");
        let value = raw;
        if (type === "number") value = Number(raw);
        else if (type === "addresses") {
          value = String(raw).split(/[\s,]+/).filter(Boolean).map((address) => ({ address }));
        } else if (raw === "") continue;
        const keys = path.split(".");
        let at = out;
        for (const key of keys.slice(0, -1)) at = at[key] ??= {};
        at[keys[keys.length - 1]] = value;
      }
      return JSON.stringify(out);
    },
  });

  // ---- what an action did

  let noticeTimer = 0;
  function notice(text, bad) {
    const el = document.getElementById("notice");
    el.textContent = text;
    el.className = bad ? "bad" : "ok";
    el.setAttribute("role", bad ? "alert" : "status");
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => {
      el.textContent = "";
      el.className = "";
    }, 8000);
  }

  // ---- htmx events

  body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.elt !== live) return;
    // Numbers typed into rows about to be replaced keep what was typed, focused or not.
    kept = [];
    for (const input of document.querySelectorAll("#listeners input[id]")) {
      if (input.value !== input.defaultValue) kept.push({ id: input.id, value: input.value });
    }
  });

  /** After a refresh swapped its parts (synchronously, before this event): charts back in, typed text back. */
  function settle() {
    adopt();
    for (const { id, value } of kept ?? []) {
      const input = document.getElementById(id);
      if (input) input.value = value;
    }
    kept = null;
  }

  body.addEventListener("htmx:afterRequest", (event) => {
    const elt = event.detail.elt;
    const xhr = event.detail.xhr;
    if (xhr && xhr.status === 401) {
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return;
    }
    if (elt === live) {
      busy = false;
      clearTimeout(watchdog);
      if (event.detail.successful) {
        settle();
        body.dataset.refreshes = String(++refreshes);
      }
      if (again) {
        again = false;
        refresh();
      } else schedule();
      return;
    }
    const action = elt.closest && elt.closest("[data-action]");
    if (!action) return;
    let reply = {};
    try {
      reply = JSON.parse(xhr.responseText);
    } catch {
      // Not JSON: the status line says enough.
    }
    if (event.detail.successful) {
      notice(`${action.dataset.action}: done`, false);
      if (action.tagName === "FORM" && action.id === "add-listener") action.reset();
      refresh();
    } else {
      notice(`${action.dataset.action}: ${reply.error || `${xhr.status} ${xhr.statusText}`}`, true);
    }
  });

  document.getElementById("window").addEventListener("change", refresh);

  document.addEventListener("DOMContentLoaded", () => {
    adopt();
    schedule();
  });
})();
