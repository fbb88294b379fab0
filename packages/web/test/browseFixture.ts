// What the browse tests share: a temporary directory removed however the test ends, a repository of either format
// whose commits the test writes with explicit times (v1: journal batches; v2: one lane), and a bare fastify app
// with the browse routes and an error handler that answers as the agent's web server does.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { LocalDirectoryStorage, Repository, createLogRoot, sha256Hex, type AnyRepository, type IndexRecord, type Logger } from "@rtbackup/core";
import { RepositoryV2, type LaneWriter } from "@rtbackup/core/v2";
import { registerBrowseRoutes } from "../dist/browse/index.js";

export const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
export const MIN = 60_000;

/** Runs `fn` with a fresh temporary directory, removed afterwards whether it passed or not. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-web-browse-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The lines logged, by level. */
export interface LogLines {
  error: string[];
  warn: string[];
  info: string[];
}

/** A logger that keeps its lines. */
export function keptLog(): { log: Logger; lines: LogLines } {
  const lines: LogLines = { error: [], warn: [], info: [] };
  const log = createLogRoot({ sink: { write: (level, _name, message) => void (level !== "debug" && lines[level].push(message)) } })("web");
  return { log, lines };
}

/** A repository the test commits to with explicit times. */
export interface TestRepo {
  readonly repo: AnyRepository;
  /** A put of a file holding `data` (split into blobs of `blobSize` bytes, v1: of its chunk size), its blobs stored. */
  file(path: string, data: Buffer | string, options?: { blobSize?: number; mode?: number; mtimeMs?: number }): Promise<IndexRecord>;
  /** Commits `records` as of `time`. */
  commit(records: IndexRecord[], time: number): Promise<void>;
}

/** A v1 repository's chunk size (a v1 file's chunks are all of it but the last). */
export const V1_CHUNK = 64 * 1024;

const meta = { mtimeMs: T0 - 3_600_000, uid: 0, gid: 0 };

/** A put of a directory. */
export const dir = (path: string, mode = 0o755): IndexRecord => ({ op: "put", path, type: "dir", size: 0, mode, chunks: [], ...meta });
/** A put of a symlink. */
export const link = (path: string, target: string): IndexRecord => ({ op: "put", path, type: "symlink", size: 0, mode: 0o777, chunks: [], target, ...meta });

function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/** A repository of `format` in a local-directory store under `root`. */
export async function testRepo(root: string, format: 1 | 2): Promise<TestRepo> {
  const storage = new LocalDirectoryStorage({ path: join(root, "store") });
  let store: (data: Buffer) => Promise<string>;
  let commit: (records: IndexRecord[], time: number) => Promise<void>;
  let repo: AnyRepository;
  let split: number | undefined;
  if (format === 1) {
    split = V1_CHUNK;
    const v1 = await Repository.open(storage, { create: { chunkSize: V1_CHUNK } });
    let seq = 0;
    store = async (data) => {
      const id = sha256Hex(data);
      await v1.putChunk(id, data);
      return id;
    };
    commit = async (records, time) => void (await v1.writeBatch(seq++, time, records));
    repo = v1;
  } else {
    const v2 = await RepositoryV2.create(storage);
    const lane: LaneWriter = await v2.openLane("a".repeat(32), "testhost");
    store = async (data) => {
      const id = v2.cipher.blobId(data);
      await v2.packs.add(id, data);
      return id;
    };
    commit = async (records, time) => void (await lane.commit(records, { time }));
    repo = v2;
  }
  return {
    repo,
    commit,
    async file(path, data, options = {}) {
      const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
      const chunks: string[] = [];
      for (const piece of pieces(bytes, split ?? options.blobSize ?? 1024 * 1024)) chunks.push(await store(piece));
      return { op: "put", path, type: "file", size: bytes.length, mode: options.mode ?? 0o644, chunks, ...meta, mtimeMs: options.mtimeMs ?? meta.mtimeMs };
    },
  };
}

/** A fastify app with the browse routes over `repo`, answering errors as the agent's web server does. */
export function browseApp(repo: AnyRepository, root: string, log: Logger = keptLog().log): FastifyInstance {
  const app = Fastify({ logger: false });
  registerBrowseRoutes(app, { repository: async () => repo, log, historyCacheDirectory: join(root, "cache") });
  app.setErrorHandler((err: { statusCode?: number; message: string }, _request, reply) => {
    const status = err.statusCode ?? 500;
    void reply.status(status).send({ error: status >= 500 ? `internal error: ${err.message}` : err.message });
  });
  return app;
}

/** GETs `url` with `query` (encoded here) and returns the response. */
export async function get(app: FastifyInstance, url: string, query: Record<string, string> = {}) {
  return app.inject({ method: "GET", url, query });
}
