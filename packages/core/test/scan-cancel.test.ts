import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, LocalDirectoryStorage, openRepository, loadTree, silentSink } from "@rtbackup/core";
import { backupOnce, testParameters, workspace } from "./helpers/tree.js";

test("a scan cancelled part-way deletes nothing it did not get to see", async () => {
  const ws = await workspace();
  try {
    for (let d = 0; d < 40; d++) {
      await mkdir(join(ws.src, `d${String(d).padStart(2, "0")}`));
      await writeFile(join(ws.src, `d${String(d).padStart(2, "0")}`, "f.txt"), `file ${d}`);
    }
    await backupOnce(ws);
    const engine = new Engine({ parameters: testParameters(ws), log: { sink: silentSink } });
    let walked = 0;
    // Cancel from inside the walk, after a few paths: the rest of the tree is never seen.
    engine.hooks.intake.tapPromise("test", async () => {
      if (++walked === 5) engine.runtime.cancelScan();
      return undefined;
    });
    const runtime = await engine.start();
    try {
      runtime.requestScan("periodic");
      await runtime.scansIdle();
      const last = runtime.scanStatus.last!;
      assert.ok(last.seen < 81, `the scan stopped early (saw ${last.seen})`);
      assert.is(last.deleted, 0, "nothing is taken for deleted");
      assert.is(last.cancelled, true);
    } finally {
      await engine.stop();
    }
    const tree = await loadTree(await openRepository(new LocalDirectoryStorage({ path: ws.store })));
    assert.is([...tree.entries.keys()].filter((p) => p.endsWith("/f.txt")).length, 40);
  } finally {
    await ws.cleanup();
  }
});

test.run();
