import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, Engine, LocalDirectoryStorage, openRepository, Restorer, loadTree, silentSink, type StorageBackend } from "@rtbackup/core";
import { readAll } from "@rtbackup/core/testing";
import { MirrorStorage, MirrorStoragePlugin } from "@rtbackup/example-mirror-storage";

async function workspace() {
  const dir = await mkdtemp(join(tmpdir(), "rtb-example-mirror-"));
  const ws = { dir, src: join(dir, "src"), store: join(dir, "store"), mirror: join(dir, "mirror"), state: join(dir, "state"), out: join(dir, "out") };
  await mkdir(join(ws.src, "docs", "deep"), { recursive: true });
  await writeFile(join(ws.src, "docs", "a.txt"), "on-site and off-site\n");
  await writeFile(join(ws.src, "docs", "deep", "b.bin"), Buffer.alloc(300_000, 9));
  await writeFile(join(ws.src, "empty"), "");
  return ws;
}

async function restoreFrom(storage: StorageBackend, out: string): Promise<number> {
  const repo = await openRepository(storage);
  const tree = await loadTree(repo, {});
  const result = await new Restorer(tree.chunks).restore(Restorer.select(tree.entries, ["/"], true).entries, out);
  return result.errors;
}

test("every object reaches the mirror, and a restore from the mirror alone gives the tree back", async () => {
  const ws = await workspace();
  try {
    const engine = new Engine({
      parameters: {
        storage: "local",
        localStoragePath: ws.store,
        remoteFileStateCachePath: ws.state,
        backupRoots: [ws.src],
        batchUploadConsolidationDelay: 20,
        snapshotSharingWindow: 10,
        stagingDirectory: join(ws.dir, "staging"),
        pathFilters: [],
      },
      log: { sink: silentSink },
      plugins: [new MirrorStoragePlugin({ path: ws.mirror })],
    });
    let description = "";
    engine.hooks.wrapStorage.tap({ name: "test", stage: 10 }, (backend) => ((description = backend.description), backend));
    await engine.start();
    try {
      await engine.initialBackup();
    } finally {
      await engine.stop();
    }
    assert.is(description, `mirror(local:${ws.store}, local:${ws.mirror})`);
    // The primary store is lost: the mirror alone is a complete repository.
    await rm(ws.store, { recursive: true });
    assert.is(await restoreFrom(new LocalDirectoryStorage({ path: ws.mirror }), ws.out), 0);
    const restored = join(ws.out, ws.src.slice(1));
    assert.is(await readFile(join(restored, "docs", "a.txt"), "utf8"), "on-site and off-site\n");
    assert.ok((await readFile(join(restored, "docs", "deep", "b.bin"))).equals(Buffer.alloc(300_000, 9)));
    assert.equal(await readdir(restored), ["docs", "empty"]);
  } finally {
    await rm(ws.dir, { recursive: true, force: true });
  }
});

test("reads fall back to the next backend for a missing object; a failing put fails the mirror put", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-example-mirror-"));
  try {
    const first = new LocalDirectoryStorage({ path: join(dir, "a") });
    const second = new LocalDirectoryStorage({ path: join(dir, "b") });
    await second.put("only/in/second", Buffer.from("second"), 6);
    const mirror = new MirrorStorage([first, second]);
    assert.is((await readAll(await mirror.get("only/in/second"))).toString(), "second");
    assert.equal(await mirror.head("only/in/second"), { key: "only/in/second", size: 6 });
    await first.put("k", Buffer.from("first"), 5);
    await second.put("k", Buffer.from("other"), 5);
    assert.is((await readAll(await mirror.get("k"))).toString(), "first");
    const failing: StorageBackend = {
      description: "failing",
      put: () => Promise.reject(new Error("disk full")),
      get: (key) => first.get(key),
      head: (key) => first.head(key),
      list: (prefix) => first.list(prefix),
      delete: (key) => first.delete(key),
    };
    const broken = new MirrorStorage([first, failing]);
    await broken.put("x", Buffer.from("x"), 1).then(
      () => assert.unreachable("a put that failed on one side must fail"),
      (err: Error) => assert.is(err.message, "disk full"),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("options are checked in the constructor, naming the option", () => {
  for (const [options, where] of [
    [undefined, "MirrorStoragePlugin.options.path"],
    ["/m", "MirrorStoragePlugin.options"],
    [{}, "MirrorStoragePlugin.options.path"],
    [{ path: "relative/dir" }, "MirrorStoragePlugin.options.path"],
    [{ path: "/m", preferMirror: "yes" }, "MirrorStoragePlugin.options.preferMirror"],
    [{ path: "/m", extra: 1 }, "MirrorStoragePlugin.options.extra"],
  ] as Array<[unknown, string]>) {
    try {
      new MirrorStoragePlugin(options);
      assert.unreachable(`accepted ${JSON.stringify(options)}`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).where, where);
    }
  }
});

test("an unknown option is refused, naming it and the nearest known one", () => {
  try {
    new MirrorStoragePlugin({ path: "/m", pth: "/m" });
    assert.unreachable("accepted a misspelt option");
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.is((err as ConfigError).where, "MirrorStoragePlugin.options.pth");
    assert.is((err as Error).message, "MirrorStoragePlugin.options.pth: unknown option (did you mean path?); known: path, preferMirror");
  }
});

test.run();
