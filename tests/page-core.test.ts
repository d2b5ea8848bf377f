/**
 * The status page's logic without a server: how long a backend's state has
 * held, the peaks the cards show, number formatting, stable element ids, and
 * a rendered refresh fragment (escaping, chart data last).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AdminGuard } from "../src/admin/auth.ts";
import { bytes, count, duration, millis } from "../src/admin/page/format.ts";
import { domId } from "../src/admin/page/ids.ts";
import { renderLive } from "../src/admin/page/routes.ts";
import { statsView } from "../src/admin/views.ts";
import { Collector } from "../src/stats/collector.ts";
import { TrafficCounters } from "../src/stats/counters.ts";
import { DAY_FINE, TrafficHistory } from "../src/stats/history.ts";
import type { TableJson } from "../src/stats/table-view.ts";
import { BackendState, StateBook } from "../src/upstream/state.ts";
import { INFO } from "./helpers/core.ts";
import { ManualClock } from "./helpers/fakes.ts";

describe("BackendState.since", () => {
  test("draining a backend dates its state from the drain", () => {
    let now = 1_000;
    const state = new BackendState(3, 10_000, () => now);
    assert.equal(state.since(now), 1_000);
    now = 5_000;
    state.admin = "draining";
    assert.equal(state.changedAt, 5_000);
    assert.equal(state.since(9_000), 5_000);
    // Setting the same input again is no change.
    now = 7_000;
    state.admin = "draining";
    assert.equal(state.since(9_000), 5_000);
  });

  test("an ejection that ran out counts from its end, not from when it began", () => {
    let now = 1_000;
    const state = new BackendState(1, 10_000, () => now);
    assert.equal(state.recordFailure(now), true);
    assert.equal(state.changedAt, 1_000);
    assert.equal(state.ejectedUntil, 11_000);
    now = 5_000;
    assert.equal(state.shown(0, now), "ejected");
    assert.equal(state.since(now), 1_000);
    // Not yet expired by anyone, but over: shown as up since the ejection ended.
    now = 12_000;
    assert.equal(state.shown(0, now), "up");
    assert.equal(state.since(now), 11_000);
  });
});

describe("TrafficHistory peaks", () => {
  test("peaks only grow with samples and go back to zero on clear()", () => {
    const history = new TrafficHistory(DAY_FINE);
    const counters = new TrafficCounters();
    counters.active = 3;
    counters.connections = 5;
    history.sample(counters);
    assert.deepEqual([history.peakActive, history.peakConnections], [3, 5]);
    counters.active = 7;
    counters.connections = 7; // 2 new in this second
    history.sample(counters);
    assert.deepEqual([history.peakActive, history.peakConnections], [7, 5]);
    counters.active = 1;
    counters.connections = 17; // 10 new
    history.sample(counters);
    assert.deepEqual([history.peakActive, history.peakConnections], [7, 10]);

    history.clear();
    assert.deepEqual([history.peakActive, history.peakConnections], [0, 0]);
    assert.equal(history.series.active.seconds.length, 0);
    // The next sample counts from the counters as they are: no new connections since.
    counters.active = 2;
    history.sample(counters);
    assert.deepEqual([history.peakActive, history.peakConnections], [2, 0]);
  });
});

describe("format", () => {
  test("bytes: whole bytes below 1 KiB, three figures with a binary unit above", () => {
    assert.equal(bytes(0), "0 B");
    assert.equal(bytes(1023), "1023 B");
    assert.equal(bytes(1024), "1.00 KiB");
    assert.equal(bytes(1536), "1.50 KiB");
    assert.equal(bytes(5 * 1024 ** 2), "5.00 MiB");
    assert.equal(bytes(123.4 * 1024 ** 3), "123 GiB");
  });

  test("count: grouped integers, one decimal for small rates", () => {
    assert.equal(count(0), "0");
    assert.equal(count(1_234_567), "1,234,567");
    assert.equal(count(2.25), "2.3");
    assert.equal(count(0.04), "0.0");
    assert.equal(count(12.6), "13");
  });

  test("duration: the two largest units, never negative", () => {
    assert.equal(duration(-5), "0s");
    assert.equal(duration(59.9), "59s");
    assert.equal(duration(60), "1m 0s");
    assert.equal(duration(3725), "1h 2m");
    assert.equal(duration(90_061), "1d 1h");
  });

  test("millis: two decimals below ten, whole above", () => {
    assert.equal(millis(0), "0.00 ms");
    assert.equal(millis(1.234), "1.23 ms");
    assert.equal(millis(12.4), "12 ms");
    assert.equal(millis(9.999), "10 ms", 'no "10.00 ms" at the boundary');
    assert.equal(bytes(1024 ** 6), "1024 PiB", "no exponent form past the largest unit");
    assert.equal(millis(250.6), "251 ms");
  });
});

describe("domId", () => {
  test("stable for a key, distinct for keys that slug alike, and a valid id", () => {
    assert.equal(domId("b", "tcp/0.0.0.0:80", "a.b"), domId("b", "tcp/0.0.0.0:80", "a.b"));
    const dot = domId("b", "a.b");
    const dash = domId("b", "a-b");
    assert.ok(dot.startsWith("b-a-b-") && dash.startsWith("b-a-b-"), `${dot} ${dash}`);
    assert.notEqual(dot, dash);
    assert.notEqual(domId("b", "ab", "c"), domId("b", "a", "bc"));
    assert.notEqual(domId("l", "x"), domId("b", "x"));
    const long = domId("b", "x".repeat(200));
    assert.match(long, /^[A-Za-z0-9-]+$/);
    assert.ok(long.length < 70, long);
  });
});

describe("renderLive", () => {
  const EVIL = "<script>alert(1)</script>";

  async function fragment() {
    const clock = new ManualClock();
    const collector = new Collector(INFO, clock);
    const states = new StateBook(() => clock.now());
    const listener = collector.listener("tcp/127.0.0.1:7000", "web");
    const backend = collector.backend(listener, "10.0.0.1:80", EVIL);
    states.get(listener.key, backend.key, { maxFails: 3, failTimeoutMs: 10_000 });
    backend.connections = listener.connections = collector.total.connections = 4;
    backend.active = listener.active = collector.total.active = 1;
    clock.advance(1000);
    collector.tick();
    const table: TableJson = {
      live_total: 1,
      matched: 1,
      live: [{
        id: 1,
        protocol: "tcp",
        listener: "web",
        client: "198.51.100.7:40000",
        backend: EVIL,
        started: new Date(clock.wallNow() - 1000).toISOString(),
        duration_ms: 1000,
        received_bytes: 10,
        sent_bytes: 20,
        state: "relaying",
        close_reason: null,
      }],
      recent: [],
    };
    return await renderLive({
      collector,
      guard: new AdminGuard({ clock }),
      view: () => statsView(collector, states, clock.now()),
      connections: () => Promise.resolve(table),
      control: true,
      wallNow: () => clock.wallNow(),
    });
  }

  test("a backend name with markup is escaped wherever it is shown", async () => {
    const html = await fragment();
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"), "the name is shown, escaped");
    assert.ok(!html.includes("<script>alert"), "no script element from the name");
    assert.ok(!html.includes("</script>alert") && !html.toLowerCase().includes("alert(1)</script>"));
  });

  test("the chart data is the last out-of-band part", async () => {
    const html = await fragment();
    const chart = html.lastIndexOf('id="chart-data"');
    assert.ok(chart > 0, "chart data present");
    const tagStart = html.lastIndexOf("<", chart);
    assert.ok(html.slice(tagStart).startsWith('<div id="chart-data" hidden'));
    assert.equal(html.lastIndexOf("hx-swap-oob"), html.indexOf("hx-swap-oob", tagStart), "no OOB part after it");
    assert.ok(html.trimEnd().endsWith("</div>"));
    const text = html.slice(html.indexOf(">", chart) + 1, html.trimEnd().length - "</div>".length);
    assert.ok(!/[<>]/.test(text), "no markup inside the data");
    const json = text.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
    assert.doesNotThrow(() => JSON.parse(json));
  });
});
