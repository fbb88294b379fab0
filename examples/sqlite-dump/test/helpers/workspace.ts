import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage, Restorer, loadTree, openRepository, type Parameters } from "@rtbackup/core";

/** A temp workspace: src (the backup root), store, state, out (restore target), data (outside the root). */
export interface Workspace {
  dir: string;
  src: string;
  store: string;
  state: string;
  out: string;
  data: string;
  cleanup(): Promise<void>;
}

export async function workspace(): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-example-sqlite-"));
  const ws = { dir, src: join(dir, "src"), store: join(dir, "store"), state: join(dir, "state"), out: join(dir, "out"), data: join(dir, "data") };
  await mkdir(ws.src);
  await mkdir(ws.data);
  return { ...ws, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Engine parameters for a local store in the workspace, with no default path filters (they exclude /tmp). */
export function testParameters(ws: Workspace): Partial<Parameters> {
  return {
    storage: "local",
    localStoragePath: ws.store,
    remoteFileStateCachePath: ws.state,
    backupRoots: [ws.src],
    batchUploadConsolidationDelay: 20,
    snapshotSharingWindow: 10,
    stagingDirectory: join(ws.dir, "staging"),
    pathFilters: [],
  };
}

/** Restores everything from the workspace's store into `out`, reading the store alone. */
export async function restoreAll(ws: Workspace): Promise<{ errors: number }> {
  const repo = await openRepository(new LocalDirectoryStorage({ path: ws.store }));
  const tree = await loadTree(repo, {});
  const restorer = new Restorer(tree.chunks);
  const result = await restorer.restore(Restorer.select(tree.entries, ["/"], true).entries, ws.out);
  return { errors: result.errors };
}

/** Runs sqlite3 on a database with SQL on stdin; returns stdout. */
export function sqlite(database: string, sql: string): string {
  return execFileSync("sqlite3", ["-batch", "-bail", database], { input: sql, encoding: "utf8" });
}

/**
 * Makes sure the sqlite3 tool (Debian package sqlite3) is there: CI installs it, and when it is missing and we run
 * as root the harness installs it itself.
 */
export function ensureSqlite3(): void {
  if (spawnSync("sqlite3", ["-version"]).status === 0) return;
  if (process.getuid?.() !== 0) throw new Error("the sqlite3 tool is missing (apt-get install sqlite3)");
  execFileSync("apt-get", ["install", "-y", "sqlite3"], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}
