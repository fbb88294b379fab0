import { cp, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Engine, ManualClock, silentSink, type BackupPlugin, type Parameters as RtbParameters, type Runtime, type Snapshot } from "@rtbackup/core";
import { testParameters, type Workspace } from "./tree.js";

/** The runtime each test clock drives, so {@link settle} can wait for its work (set by {@link pipelineEngine}). */
const runtimes = new WeakMap<ManualClock, Runtime>();

/**
 * Fires what is due on `clock` and waits until the pipeline is quiet (no hook call or I/O in flight), again while
 * that work left timers due now; then only moving the clock, or a new event, can change anything.
 */
export async function quiesce(clock: ManualClock, runtime: Runtime): Promise<void> {
  for (let round = 0; ; round++) {
    if (round > 10_000) throw new Error("the pipeline keeps scheduling work due now: a timer loop");
    await clock.advance(0);
    await runtime.quiet();
    if (clock.due === 0) return;
  }
}

/**
 * A snapshot strategy for tests: copies the batch's files into a private directory at snapshot time, so a file
 * changed afterwards still reads as it was. Counts creations and releases; can be told to fail.
 */
export class CopySnapshotPlugin implements BackupPlugin {
  readonly name = "CopySnapshotPlugin";
  created = 0;
  released = 0;
  failNext = 0;
  readonly requests: { filesystem: string; paths: readonly string[] }[] = [];
  readonly #dir: string;
  readonly #filesystems: ((path: string) => string | undefined) | undefined;

  constructor(dir: string, filesystems?: (path: string) => string | undefined) {
    this.#dir = dir;
    this.#filesystems = filesystems;
  }

  apply(engine: Engine): void {
    if (this.#filesystems) engine.hooks.filesystem.tap(this.name, (p) => this.#filesystems!(p));
    engine.hooks.snapshot.tapPromise(this.name, async (request) => {
      this.requests.push(request);
      if (this.failNext > 0) {
        this.failNext--;
        throw new Error("zfs snapshot: simulated failure");
      }
      const n = ++this.created;
      const root = join(this.#dir, `snap${n}`);
      for (const p of request.paths) {
        await mkdir(dirname(join(root, p)), { recursive: true });
        await cp(p, join(root, p), { preserveTimestamps: true }).catch(() => undefined);
      }
      const snapshot: Snapshot = {
        name: `copy@${n}`,
        filesystem: request.filesystem,
        createdAt: Date.now(),
        pathOf: (live) => join(root, live),
        release: async () => {
          this.released++;
          await rm(root, { recursive: true, force: true });
        },
      };
      return snapshot;
    });
  }
}

/** A started engine with a manual clock and a scripted stability check. */
export async function pipelineEngine(ws: Workspace, extra: Partial<RtbParameters> = {}, plugins: BackupPlugin[] = []) {
  const clock = new ManualClock(Date.now());
  const writers = new Set<string>();
  const checks: string[][] = [];
  const engine = new Engine({
    parameters: testParameters(ws, {
      snapshotSharingWindow: 1000,
      openFileHandlePollingInterval: 4000,
      maximumTimeToWaitForNoOpenFileHandles: 30_000,
      longPollingInterval: 30_000,
      maximumLongPollingTime: 600_000,
      // Every timer runs on the manual clock, the committer's too: a batch of records closes at the next advance.
      batchUploadConsolidationDelay: 0,
      ...extra,
    }),
    log: { sink: silentSink },
    plugins,
  });
  engine.hooks.stability.tapPromise("ScriptedStability", async ({ paths }) => {
    checks.push([...paths]);
    return new Set(paths.filter((p) => writers.has(p)));
  });
  const uploads: string[] = [];
  engine.hooks.uploaded.tap("test", (u) => uploads.push(u.path));
  const runtime: Runtime = await engine.start({ clock });
  runtimes.set(clock, runtime);
  /** Submits an event and lets intake (asynchronous: filters are hooks) take it before the clock moves. */
  const submit = async (event: Parameters<Engine["submit"]>[0]) => {
    engine.submit(event);
    await runtime.quiet();
  };
  return { engine, runtime, clock, writers, checks, uploads, submit };
}

/**
 * Moves `clock` (from {@link pipelineEngine}) forward by `ms`, letting the pipeline finish the work each timer
 * starts before the next timer fires, then {@link quiesce}s: the manual clock and the real I/O never race.
 */
export async function advance(clock: ManualClock, ms: number): Promise<void> {
  const runtime = runtimes.get(clock);
  if (!runtime) throw new Error("advance: this clock drives no pipelineEngine runtime");
  await clock.advance(ms, () => runtime.quiet());
  await quiesce(clock, runtime);
}

/**
 * Lets the pipeline of `clock` (from {@link pipelineEngine}) do everything it can without time moving
 * ({@link quiesce}), then checks `cond`: what was not reached by then cannot be reached without advancing the
 * clock, so the test fails at once instead of after a real-time timeout.
 */
export async function settle(clock: ManualClock, cond: () => boolean | Promise<boolean>, what = "condition"): Promise<void> {
  const runtime = runtimes.get(clock);
  if (!runtime) throw new Error("settle: this clock drives no pipelineEngine runtime");
  await quiesce(clock, runtime);
  if (!(await cond())) throw new Error(`${what}: not reached once the pipeline was quiet (only moving the clock could change that)`);
}
