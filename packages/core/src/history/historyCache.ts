import { createHash } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { open, type RootDatabase } from "lmdb";
import { encodeName } from "../fsNames.js";
import { notLmdb } from "../io/lmdbFile.js";
import { processAlive } from "../state/lock.js";
import type { IndexRecord } from "../types.js";
import type { CommitSummary } from "./versions.js";

/** The layout of the cache's keys and values; a cache of another layout is emptied and filled again. */
const LAYOUT = 1;
/** Path bytes kept whole in a key; a longer path keeps this many and a hash of the whole (lookups then check the path). */
const PATH_KEY_BYTES = 1000;
const KIND = { put: 0x70, structural: 0x73, commit: 0x63, host: 0x68, info: 0x69 } as const;

/** Where a commit sits in the order every reader applies batches: time, lane, sequence number (28 bytes, sortable). */
export function commitOrder(time: number, lane: string, seq: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt32BE(Math.floor(time / 2 ** 32), 0);
  b.writeUInt32BE(time % 2 ** 32, 4);
  b.write(lane, 8, 16, "hex");
  b.writeUInt32BE(seq, 24);
  return b;
}

/** What the cache keeps of one commit (a batch), besides its records. */
export interface CachedCommit {
  readonly key: string;
  readonly time: number;
  readonly lane: string;
  readonly seq: number;
  readonly prev: string | null;
  readonly storedBytes: number;
  /** The commit summed up as `rtb log` shows it; null for a batch with no record. */
  readonly summary: CommitSummary | null;
}

/** A record as the cache returns it: the commit it belongs to (its order) and its place in that commit. */
export interface CachedRecord {
  readonly order: string;
  readonly index: number;
  readonly record: IndexRecord;
}

/** A path as a key: its bytes, or for a long one its first bytes and a hash of the whole. */
export function pathKey(path: string): Buffer {
  const bytes = encodeName(path);
  if (bytes.length <= PATH_KEY_BYTES) return bytes;
  return Buffer.concat([bytes.subarray(0, PATH_KEY_BYTES), Buffer.from([1]), createHash("sha256").update(bytes).digest()]);
}

/** The first key past every key that starts with `prefix` (trailing 0xff bytes carry, as in a number). */
function after(prefix: Buffer): Buffer {
  let n = prefix.length;
  while (n > 0 && prefix[n - 1] === 0xff) n--;
  const end = Buffer.from(prefix.subarray(0, n));
  end[n - 1]!++;
  return end;
}

/**
 * The local history cache of one repository (docs/history.md "The local cache"): every batch's records, keyed by the
 * paths they name in commit order, in an LMDB file, so that `rtb versions` and `rtb log` read only the batches
 * committed since the last run. Puts are keyed by their path, moves and deletes by each path they name (a reader
 * asks for them at every directory above a path). It holds the decrypted index, so its directory is the user's own
 * (mode 0700).
 */
export class HistoryCache {
  readonly #db: RootDatabase<unknown, Buffer>;
  readonly #marker: string;
  /** Why the cache file found was thrown away and filled again, if it was. */
  readonly discarded: string | undefined;

  private constructor(db: RootDatabase<unknown, Buffer>, marker: string, discarded: string | undefined) {
    this.#db = db;
    this.#marker = marker;
    this.discarded = discarded;
  }

  /**
   * Opens (or creates) the cache of repository `id` under `root`; one of another layout or repository is emptied.
   * LMDB trusts its file, and a damaged one can crash the process, so a file whose meta pages are not LMDB's is
   * thrown away before it is opened, and so is a file a run was using when it ended without closing it (it may
   * have crashed on it): each run leaves a `using-<pid>` marker while the cache is open.
   */
  static open(root: string, id: string): HistoryCache {
    const directory = join(root, id);
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    tagCacheDirectory(root);
    const st = lstatSync(directory);
    if (!st.isDirectory() || (typeof process.getuid === "function" && st.uid !== process.getuid()))
      throw new Error(`${directory} is not a directory of this user`);
    if ((st.mode & 0o077) !== 0) chmodSync(directory, 0o700);
    const file = join(directory, "history.mdb");
    const discarded = staleMarkers(directory) ?? notLmdb(file);
    if (discarded !== undefined) for (const f of [file, `${file}-lock`]) rmSync(f, { force: true });
    const marker = join(directory, `using-${process.pid}`);
    writeFileSync(marker, "", { mode: 0o600 });
    let db: RootDatabase<unknown, Buffer>;
    try {
      db = open<unknown, Buffer>({ path: file, keyEncoding: "binary", encoding: "json", compression: false, mapSize: 2 ** 36 });
    } catch (err) {
      unlinkSync(marker);
      throw err;
    }
    const cache = new HistoryCache(db, marker, discarded);
    const info = db.get(Buffer.from([KIND.info])) as { layout?: unknown; id?: unknown } | undefined;
    if (info?.layout !== LAYOUT || info.id !== id) cache.clear(id);
    return cache;
  }

  /** Empties the cache (a prune or a lost batch changed what came before): it is filled again from the store. */
  clear(id: string): void {
    this.#db.transactionSync(() => {
      this.#db.clearSync();
      this.#db.putSync(Buffer.from([KIND.info]), { layout: LAYOUT, id, emptied: `${process.pid}-${Date.now()}-${Math.random()}` });
    });
  }

  /** Which emptying the cache's content dates from: it changes whenever any run empties the cache. */
  generation(): string {
    return String((this.#db.get(Buffer.from([KIND.info])) as { emptied?: unknown } | undefined)?.emptied);
  }

  /** Every cached commit, in commit order, keyed by batch key. */
  commits(): Map<string, CachedCommit> {
    const out = new Map<string, CachedCommit>();
    const start = Buffer.from([KIND.commit]);
    for (const { value } of this.#db.getRange({ start, end: after(start) })) {
      const c = value as CachedCommit;
      out.set(c.key, c);
    }
    return out;
  }

  /** Adds commits and their records; each commit is written whole or not at all (records and summary in one transaction). */
  add(batches: readonly { commit: CachedCommit; records: readonly IndexRecord[] }[]): Promise<boolean> {
    return this.#db.transaction(() => {
      for (const { commit, records } of batches) {
        const order = commitOrder(commit.time, commit.lane, commit.seq);
        records.forEach((record, i) => {
          const suffix = Buffer.alloc(33);
          order.copy(suffix, 1);
          suffix.writeUInt32BE(i, 29);
          const paths = record.op === "move" ? (record.from === record.to ? [record.from] : [record.from, record.to]) : [record.path];
          const kind = record.op === "put" ? KIND.put : KIND.structural;
          for (const p of paths) this.#db.put(Buffer.concat([Buffer.from([kind]), pathKey(p), suffix]), record);
        });
        this.#db.put(Buffer.concat([Buffer.from([KIND.commit]), order]), commit);
      }
      return true;
    });
  }

  /** Puts of exactly `path` (`subtree`: of `path` and everything under it), moves and deletes likewise. */
  records(kind: "put" | "structural", path: string, subtree: boolean): CachedRecord[] {
    const out: CachedRecord[] = [];
    const key = Buffer.concat([Buffer.from([KIND[kind]]), pathKey(path)]);
    // Everything under `path` starts with `path/` (under "/", with "/", `path` itself included); a path too long to
    // key whole is keyed by its first bytes, so what a range gives is checked against the record's own paths.
    const exact = Buffer.concat([key, Buffer.from([0])]);
    const under = Buffer.concat([Buffer.from([KIND[kind]]), pathKey(`${path}/`).subarray(0, PATH_KEY_BYTES)]);
    const ranges = !subtree ? [exact] : path === "/" ? [key] : [exact, under];
    for (const start of ranges) {
      for (const { key: k, value } of this.#db.getRange({ start, end: after(start) })) {
        const record = value as IndexRecord;
        const named = record.op === "move" ? [record.from, record.to] : [record.path];
        if (!named.some((p) => p === path || (subtree && (path === "/" || p.startsWith(`${path}/`))))) continue;
        out.push({ order: k.subarray(k.length - 32, k.length - 4).toString("hex"), index: k.readUInt32BE(k.length - 4), record });
      }
    }
    return out;
  }

  /** The host each cached lane's `lane` object names. */
  hosts(): Map<string, string> {
    const out = new Map<string, string>();
    const start = Buffer.from([KIND.host]);
    for (const { key, value } of this.#db.getRange({ start, end: after(start) })) out.set(key.subarray(1).toString("hex"), value as string);
    return out;
  }

  setHost(lane: string, host: string): Promise<boolean> {
    return this.#db.put(Buffer.concat([Buffer.from([KIND.host]), Buffer.from(lane, "hex")]), host);
  }

  async close(): Promise<void> {
    await this.#db.close();
    rmSync(this.#marker, { force: true });
  }
}

/** Marks `root` as a cache (the Cache Directory Tagging Specification), so backup tools that honour it skip it. */
function tagCacheDirectory(root: string): void {
  const tag =
    "Signature: 8a477f597d28d172789f06886806bc55\n# The local history cache of realtime-backup (rtb versions, rtb log): rebuilt from the store at will.\n";
  try {
    writeFileSync(join(root, "CACHEDIR.TAG"), tag, { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}

/** Why a run that used the cache may have crashed on it: a `using-<pid>` marker of a process that is gone (removed). */
function staleMarkers(directory: string): string | undefined {
  let why: string | undefined;
  for (const name of readdirSync(directory)) {
    const pid = /^using-(\d+)$/.exec(name)?.[1];
    if (pid === undefined || processAlive(Number(pid))) continue;
    rmSync(join(directory, name), { force: true });
    why = `process ${pid} was using it when it ended without closing it`;
  }
  return why;
}
