import { cp, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Engine, ManualClock, silentSink, type BackupPlugin, type Parameters as RtbParameters, type Runtime, type Snapshot } from "@rtbackup/core";
import { testParameters, type Workspace } from "./tree.js";

/** Polls `cond` (real time) until it is true or `ms` passes. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
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
  /** Submits an event and lets intake (asynchronous: filters are hooks) take it before the clock moves. */
  const submit = async (event: Parameters<Engine["submit"]>[0]) => {
    engine.submit(event);
    await until(() => runtime.pipeline.intakesInFlight === 0, 5000, "intake");
  };
  return { engine, runtime, clock, writers, checks, uploads, submit };
}

/** Fires timers due now (manual clock) and waits (real time) until `cond` holds, repeatedly, with a deadline. */
export async function settle(clock: ManualClock, cond: () => boolean | Promise<boolean>, what = "condition", ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    await clock.advance(0);
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
