import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, Engine, LocalDirectoryStorage, openRepository, loadTree, silentSink } from "@rtbackup/core";
import { NoBackupMarkerPlugin } from "@rtbackup/example-nobackup-filter";

async function workspace() {
  const dir = await mkdtemp(join(tmpdir(), "rtb-example-nobackup-"));
  const src = join(dir, "src");
  for (const d of ["keep/sub", "cache/deep/er", "project/build/out", "project/src"]) await mkdir(join(src, d), { recursive: true });
  await writeFile(join(src, "keep", "sub", "a.txt"), "a");
  await writeFile(join(src, "cache", ".nobackup"), "");
  await writeFile(join(src, "cache", "big.bin"), "x".repeat(1000));
  await writeFile(join(src, "cache", "deep", "er", "c.txt"), "c");
  await writeFile(join(src, "project", "build", ".nobackup"), "");
  await writeFile(join(src, "project", "build", "out", "app"), "binary");
  await writeFile(join(src, "project", "src", "main.ts"), "code");
  await writeFile(join(src, "project", ".nobackup.txt"), "not the marker");
  const parameters = {
    storage: "local" as const,
    localStoragePath: join(dir, "store"),
    remoteFileStateCachePath: join(dir, "state"),
    backupRoots: [src],
    batchUploadConsolidationDelay: 20,
    snapshotSharingWindow: 10,
    stagingDirectory: join(dir, "staging"),
    pathFilters: [],
  };
  return { dir, src, parameters, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The paths in the backup's latest tree, relative to `src`. */
async function backedUp(store: string, src: string): Promise<string[]> {
  const tree = await loadTree(await openRepository(new LocalDirectoryStorage({ path: store })), {});
  return [...tree.entries.keys()]
    .filter((p) => p.startsWith(`${src}/`))
    .map((p) => p.slice(src.length + 1))
    .sort();
}

test("a directory holding .nobackup is left out with its subtree, by scans and by live events", async () => {
  const ws = await workspace();
  const engine = new Engine({ parameters: ws.parameters, log: { sink: silentSink }, plugins: [new NoBackupMarkerPlugin()] });
  try {
    const runtime = await engine.start();
    await engine.initialBackup();
    assert.equal(await backedUp(ws.parameters.localStoragePath, ws.src), [
      "keep",
      "keep/sub",
      "keep/sub/a.txt",
      "project",
      "project/.nobackup.txt",
      "project/src",
      "project/src/main.ts",
    ]);
    // A source reports new files: the one under a marked directory is excluded at intake.
    await writeFile(join(ws.src, "cache", "deep", "new.txt"), "new");
    await writeFile(join(ws.src, "keep", "new.txt"), "new");
    const excludedBefore = runtime.pipeline.stats.excluded;
    engine.submit({ type: "update", path: join(ws.src, "cache", "deep", "new.txt") });
    engine.submit({ type: "update", path: join(ws.src, "keep", "new.txt") });
    await runtime.drain();
    assert.is(runtime.pipeline.stats.excluded - excludedBefore, 1);
    // A marker added later: the next rescan drops what was backed up under it.
    await writeFile(join(ws.src, "keep", "sub", ".nobackup"), "");
    await runtime.scan("periodic");
    await runtime.drain();
  } finally {
    await engine.stop();
  }
  try {
    assert.equal(await backedUp(ws.parameters.localStoragePath, ws.src), [
      "keep",
      "keep/new.txt",
      "project",
      "project/.nobackup.txt",
      "project/src",
      "project/src/main.ts",
    ]);
  } finally {
    await ws.cleanup();
  }
});

test("a custom marker name; bad options name the option", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-example-nobackup-"));
  try {
    await mkdir(join(dir, "a", "b"), { recursive: true });
    await writeFile(join(dir, "a", "CACHEDIR.TAG"), "Signature: 8a477f597d28d172789f06886806bc55");
    const plugin = new NoBackupMarkerPlugin({ marker: "CACHEDIR.TAG" });
    assert.ok(await plugin.isMarked(join(dir, "a", "b", "file")));
    assert.ok(await plugin.isMarked(join(dir, "a")));
    assert.not.ok(await plugin.isMarked(join(dir, "other")));
    assert.not.ok(await new NoBackupMarkerPlugin().isMarked(join(dir, "a", "b")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  for (const [options, where] of [
    [[".nobackup"], "NoBackupMarkerPlugin.options"],
    [{ marker: "" }, "NoBackupMarkerPlugin.options.marker"],
    [{ marker: "a/b" }, "NoBackupMarkerPlugin.options.marker"],
    [{ marker: 3 }, "NoBackupMarkerPlugin.options.marker"],
    [{ markers: [".nobackup"] }, "NoBackupMarkerPlugin.options.markers"],
  ] as Array<[unknown, string]>) {
    try {
      new NoBackupMarkerPlugin(options);
      assert.unreachable(`accepted ${JSON.stringify(options)}`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).where, where);
    }
  }
  // As for every plugin, null (an empty `options:` in YAML) means no options.
  assert.is(new NoBackupMarkerPlugin(null).options.marker, ".nobackup");
  try {
    new NoBackupMarkerPlugin({ markers: [".nobackup"] });
    assert.unreachable("accepted a misspelt option");
  } catch (err) {
    assert.is((err as Error).message, "NoBackupMarkerPlugin.options.markers: unknown option (did you mean marker?); known: marker");
  }
});

test.run();
