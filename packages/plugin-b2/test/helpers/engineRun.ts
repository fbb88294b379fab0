import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine, openRepository, Restorer, loadTree, silentSink, type Parameters, type StorageBackend } from "@rtbackup/core";
import { B2StoragePlugin, type B2StoragePluginOptions } from "@rtbackup/plugin-b2";
import type { B2Emulator } from "@rtbackup/plugin-b2/emulator";
import { bytes } from "./treeData.js";

/** A temporary source tree, state directory and restore target. `cleanup` removes them all. */
export interface Workspace {
  dir: string;
  src: string;
  state: string;
  out: string;
  cleanup(): Promise<void>;
}

/** Makes a workspace with `small` files of up to 30 KB (one empty) and `large` files of `largeSize` and more. */
export async function treeWorkspace(small: number, large: number, largeSize: number): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-b2-e2e-"));
  const ws = { dir, src: join(dir, "src"), state: join(dir, "state"), out: join(dir, "out") };
  for (let i = 0; i < small; i++) {
    const sub = join(ws.src, `dir${i % 4}`, i % 3 === 0 ? "deeper/still" : "");
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, i === 1 ? "name with spaces + ünïcødé.txt" : `file-${i}.dat`), bytes(i === 0 ? 0 : 100 + ((i * 7919) % 30_000), i + 1));
  }
  await mkdir(join(ws.src, "images"), { recursive: true });
  for (let i = 0; i < large; i++) await writeFile(join(ws.src, "images", `disk-${i}.img`), bytes(largeSize + i * 4099, 500 + i));
  return { ...ws, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Engine parameters for backing up a workspace into the emulator's bucket. */
export function e2eParameters(ws: Workspace, emulator: B2Emulator, extra: Partial<Parameters> = {}): Partial<Parameters> {
  return {
    storage: "b2",
    remoteStorageKeyID: emulator.credentials.keyId,
    remoteStorageApplicationKey: emulator.credentials.applicationKey,
    remoteStorageBucketID: emulator.bucketId,
    b2LargeFileThreshold: 100_000,
    b2LargeFileChunkSize: 64 * 1024,
    remoteFileStateCachePath: ws.state,
    backupRoots: [ws.src],
    batchUploadConsolidationDelay: 20,
    snapshotSharingWindow: 10,
    stagingDirectory: join(ws.dir, "staging"),
    pathFilters: [],
    chunkSize: 256 * 1024,
    ...extra,
  };
}

/** Runs one initial backup through an engine with the B2 plugin, then stops it. */
export async function backupThroughEngine(ws: Workspace, emulator: B2Emulator, pluginOptions: B2StoragePluginOptions, extra: Partial<Parameters> = {}) {
  const engine = new Engine({
    parameters: e2eParameters(ws, emulator, extra),
    log: { sink: silentSink },
    plugins: [new B2StoragePlugin({ authorizeUrl: emulator.authorizeUrl, owner: "e2e", ...pluginOptions })],
  });
  await engine.start();
  try {
    return await engine.initialBackup();
  } finally {
    await engine.stop();
  }
}

/** Restores everything from `backend` (the bucket alone) into the workspace's `out`. */
export async function restoreFrom(backend: StorageBackend, ws: Workspace) {
  const repo = await openRepository(backend);
  const tree = await loadTree(repo);
  const restorer = new Restorer(tree.chunks, {});
  const selection = Restorer.select(tree.entries, ["/"], true);
  return restorer.restore(selection.entries, ws.out);
}

/** Path → size and content of every regular file under `root` (directories as markers). */
export async function snapshotTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function visit(dir: string, rel: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const st = await lstat(path);
      if (st.isDirectory()) {
        out.set(`${rel}/${name}`, "dir");
        await visit(path, `${rel}/${name}`);
      } else {
        out.set(`${rel}/${name}`, `${st.size}:${(await readFile(path)).toString("base64")}`);
      }
    }
  }
  await visit(root, "");
  return out;
}
