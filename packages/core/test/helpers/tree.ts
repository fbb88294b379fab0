import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, utimes, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeySource } from "@rtbackup/core/v2";
import { setTimeout as delay } from "node:timers/promises";
import {
  Engine,
  LocalDirectoryStorage,
  Restorer,
  loadTree,
  openRepository,
  silentSink,
  type BackupPlugin,
  type Parameters,
  type RestorerOptions,
  type StorageBackend,
} from "@rtbackup/core";

/** A temp workspace: src tree, store, state dir, restore dir. Removed by cleanup(). */
export interface Workspace {
  dir: string;
  src: string;
  store: string;
  state: string;
  out: string;
  /** The format engines on this workspace create their repository in (the default, v2, when absent). */
  format?: 1 | 2;
  cleanup(): Promise<void>;
}

/** A workspace; `format: 1` for the tests of format v1's own machinery (its journal, its content objects). */
export async function workspace(options: { format?: 1 | 2 } = {}): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-test-"));
  const ws = { dir, src: join(dir, "src"), store: join(dir, "store"), state: join(dir, "state"), out: join(dir, "out"), ...options };
  await mkdir(ws.src);
  return { ...ws, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Parameters for a test engine on a workspace. */
export function testParameters(ws: Workspace, extra: Partial<Parameters> = {}): Partial<Parameters> {
  return {
    storage: "local",
    localStoragePath: ws.store,
    remoteFileStateCachePath: ws.state,
    backupRoots: [ws.src],
    batchUploadConsolidationDelay: 20,
    snapshotSharingWindow: 10,
    stagingDirectory: join(ws.dir, "staging"),
    pathFilters: [],
    chunkSize: 64 * 1024,
    ...(ws.format ? { repositoryFormat: ws.format } : {}),
    ...extra,
  };
}

/**
 * Runs one initial backup (a full scan) with a fresh engine and stops it. It first lets the tree settle for longer
 * than the racy window of a sub-second filesystem (20 ms, see `racyWindowMs`): a file read within it of its last
 * change is read again by the next scan, which would make that scan's counts depend on how fast this one started.
 */
export async function backupOnce(ws: Workspace, extra: Partial<Parameters> = {}, wrap?: (b: StorageBackend) => StorageBackend, plugins: BackupPlugin[] = []) {
  await delay(30);
  const engine = new Engine({ parameters: testParameters(ws, extra), plugins, log: { sink: silentSink } });
  if (wrap) engine.hooks.wrapStorage.tap("test", wrap);
  await engine.start();
  try {
    return await engine.initialBackup();
  } finally {
    await engine.stop();
  }
}

/** The paths of the files the store's tree holds, relative to the workspace's src, sorted. */
export async function backedUpFiles(ws: Workspace): Promise<string[]> {
  const tree = await loadTree(await openRepository(new LocalDirectoryStorage({ path: ws.store })));
  return [...tree.entries.values()]
    .filter((e) => e.type === "file")
    .map((e) => e.path.slice(ws.src.length))
    .sort();
}

/** Restores everything (or the given paths) from the store into `out`, with `restorer` options if given. */
export async function restoreAll(ws: Workspace, options: { at?: number; paths?: string[]; out?: string; restorer?: RestorerOptions; keys?: KeySource } = {}) {
  const repo = await openRepository(new LocalDirectoryStorage({ path: ws.store }), options.keys ? { keys: options.keys } : {});
  const tree = await loadTree(repo, options.at === undefined ? {} : { at: options.at });
  const events: unknown[] = [];
  const restorer = new Restorer(tree.chunks, { ...options.restorer, onEvent: (e) => events.push(e) });
  const sel = Restorer.select(tree.entries, options.paths ?? ["/"], true);
  const result = await restorer.restore(sel.entries, options.out ?? ws.out);
  return { result, events, tree };
}

/** A description of a tree for comparisons: type, mode, size, content hash or link target, mtime (ms). */
export async function describe(root: string, withMtime = true): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function visit(dir: string, rel: string) {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const r = `${rel}/${name}`;
      const st = await lstat(p);
      const mt = withMtime && !st.isSymbolicLink() ? ` mtime=${Math.floor(st.mtimeMs)}` : "";
      if (st.isDirectory()) {
        out.set(r, `dir mode=${(st.mode & 0o7777).toString(8)}`);
        await visit(p, r);
        if (withMtime) out.set(r, `${out.get(r)}${mt}`);
      } else if (st.isSymbolicLink()) out.set(r, `link -> ${await readlink(p)}`);
      else
        out.set(
          r,
          `file mode=${(st.mode & 0o7777).toString(8)} size=${st.size}${mt} ${(await readFile(p)).toString("base64").slice(0, 64)}:${(await readFile(p)).length}`,
        );
    }
  }
  await visit(root, "");
  return out;
}

/** Writes a varied tree: empty files, odd names, deep paths, symlinks, modes, a multi-chunk file. */
export async function makeSampleTree(root: string): Promise<void> {
  await mkdir(join(root, "docs", "deep", "a", "b", "c", "d", "e", "f"), { recursive: true });
  await writeFile(join(root, "docs", "hello.txt"), "hello world\n");
  await writeFile(join(root, "docs", "empty"), "");
  await writeFile(join(root, "docs", "name with spaces.txt"), "spaces");
  await writeFile(join(root, "docs", "ünïcødé 日本語.txt"), "unicode");
  await writeFile(join(root, "docs", "new\nline"), "newline in name");
  await writeFile(join(root, "docs", "deep", "a", "b", "c", "d", "e", "f", "leaf.bin"), Buffer.alloc(3000, 7));
  const big = Buffer.alloc(200 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 8)) & 0xff;
  await writeFile(join(root, "big.bin"), big);
  await symlink("docs/hello.txt", join(root, "link-to-hello"));
  await symlink("/nonexistent/target", join(root, "dangling"));
  await writeFile(join(root, "script.sh"), "#!/bin/sh\necho hi\n");
  await chmod(join(root, "script.sh"), 0o750);
  await mkdir(join(root, "empty-dir"));
  await utimes(join(root, "docs", "hello.txt"), 1_600_000_000, 1_600_000_000.5);
}
