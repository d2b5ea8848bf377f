/**
 * The history snapshot file through the real runtime's file I/O: saved on
 * shutdown (written beside and renamed over), loaded on the next start; a
 * corrupt file is reported and ignored.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { startSluice } from "../src/compose.ts";
import { loadObject } from "../src/config/load.ts";
import { selectRuntime } from "../src/runtime/select.ts";
import { memoryLog } from "./helpers/log.ts";
import { tempFile } from "./helpers/spawn.ts";

const runtime = selectRuntime();

async function start(stateFile: string) {
  const loaded = loadObject({
    admin: { enabled: false },
    stats: { state_file: stateFile },
    listeners: [{ name: "web", listen: "127.0.0.1:0", backends: [{ address: "127.0.0.1:9" }] }],
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const memory = memoryLog();
  return { sluice: await startSluice(runtime, loaded.config, { log: memory.log }), ...memory };
}

describe(`history file on ${runtime.name}`, () => {
  test("the minute history is saved on shutdown and put back on the next start", async () => {
    const path = join(dirname(tempFile("x", "")), "history.json");
    const first = await start(path);
    const listener = first.sluice.collector.listeners()[0];
    for (let i = 0; i < 60; i++) {
      listener.connections += 3;
      first.sluice.collector.tick();
    }
    await first.sluice.shutdown();
    assert.ok(existsSync(path) && !existsSync(`${path}.tmp`), "written and renamed");
    assert.equal(JSON.parse(readFileSync(path, "utf8")).version, 1);
    const second = await start(path);
    const history = second.sluice.collector.historyOf(second.sluice.collector.listeners()[0])!;
    assert.equal(history.series.connections.day.toArray()[0], 3);
    assert.equal(second.events("stats.snapshot")[0].result, "loaded");
    await second.sluice.shutdown();
  });

  test("a corrupt file is reported and ignored; Sluice starts all the same", async () => {
    const path = tempFile("history.json", "{ not json");
    const { sluice, events } = await start(path);
    const reported = events("stats.snapshot")[0];
    assert.deepEqual([reported.level, reported.result], ["warn", "ignored"]);
    assert.match(String(reported.reason), /not JSON/);
    await sluice.shutdown();
    assert.equal(JSON.parse(readFileSync(path, "utf8")).format, "sluice-history", "replaced by a good one");
    writeFileSync(path, JSON.stringify({ format: "sluice-history", version: 7, entities: {} }));
    const again = await start(path);
    assert.match(String(again.events("stats.snapshot")[0].reason), /version 7/);
    await again.sluice.shutdown();
  });
});
