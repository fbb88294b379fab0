import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { advance, pipelineEngine, quiesce, settle } from "./helpers/pipeline.js";
import { workspace } from "./helpers/tree.js";

/** Fails instead of hanging when `promise` does not settle within `ms` of real time (a deadline, not a wait). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

test("quiet() resolves while a scan waits for room, and the scan goes on once the pipeline drains below the low-water mark", async () => {
  const ws = await workspace();
  const { engine, runtime, clock, writers, uploads } = await pipelineEngine(ws, { queueHighWaterMark: 4, queueLowWaterMark: 1 });
  try {
    const files = Array.from({ length: 12 }, (_, i) => join(ws.src, `f${String(i).padStart(2, "0")}`));
    for (const f of files) {
      await writeFile(f, f);
      writers.add(f);
    }
    const scan = runtime.scan("request");
    let scanned = false;
    void scan.then(() => (scanned = true));
    // Every file has a writer: each waits in stability, so the scan stops at the high-water mark. Waiting for room
    // is not work in flight: quiet() must resolve, and the scan must still be waiting.
    await within(quiesce(clock, runtime), 10_000, "quiet while the scan waits for room");
    await advance(clock, 1000);
    assert.not.ok(scanned, "the scan finished although the pipeline was full");
    const held = runtime.pipeline.outstanding;
    // The scan queued the root directory and files up to the high-water mark (4), then waited; the directory is done.
    assert.ok(held >= 3 && held < files.length, `outstanding ${held}: the scan was not held back at the high-water mark`);
    writers.clear();
    for (let i = 0; i < 40 && !scanned; i++) await advance(clock, 4000);
    assert.ok(scanned, "the scan went on once there was room");
    await settle(clock, () => uploads.length === files.length, "every file uploaded");
  } finally {
    await engine.stop({ drain: false });
    await ws.cleanup();
  }
});

test.run();
