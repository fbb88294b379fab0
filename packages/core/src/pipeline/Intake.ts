import { isUnder } from "../mounts/mountPaths.js";
import type { BackupAction, ChangeEvent, ScanInfo } from "../types.js";
import { lstatPath } from "./FileReader.js";
import { PauseBuffer } from "./PauseBuffer.js";
import type { StageContext } from "./StageContext.js";
import { wakeAll } from "./waiters.js";

/** Where intake sends what it takes in (the pipeline implements it). */
export interface IntakeOutput {
  /** A batch of paths closed (SnapshotSharingWindow over): snapshot them together. */
  snapshotBatch(paths: string[]): void;
  /** A delete or move record to queue (no content to read). */
  enqueue(action: BackupAction): void;
  /** A directory tree to walk (a rescan event, a directory moved in from outside the backup). */
  requestScan(reason: ScanInfo["reason"], roots: string[]): void;
  /**
   * Whether a delete or move of `path` must be recorded: it is committed, or work that may record it is still in
   * flight. In the second case the record may turn out a no-op, which is harmless; dropping it would leave a file in
   * the backup that is gone.
   */
  mayBeRecorded(path: string): boolean;
  /** Whether the committed state has `path` (or anything under it). */
  committed(path: string): boolean;
  /** Taking an event in failed (a filter threw): logged and counted. */
  intakeFailed(path: string, error: unknown): void;
}

/**
 * Stages 1–2: every change event (from sources through `engine.submit`, and every changed file a scan found) is
 * filtered once through the `intake` hook, coalesced per path, and gathered into a batch that closes
 * SnapshotSharingWindow after its first path, so a burst of changes shares one snapshot per filesystem. Deletes and
 * moves become records at once (pending updates of what they remove are dropped or follow the move). While paused,
 * events are held.
 */
export class Intake {
  readonly #context: StageContext;
  readonly #out: IntakeOutput;
  readonly #pause = new PauseBuffer();
  #batch = new Set<string>();
  #batchTimer: unknown;
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  readonly stats = { events: 0, excluded: 0, coalesced: 0, batches: 0 };

  constructor(context: StageContext, out: IntakeOutput) {
    this.#context = context;
    this.#out = out;
  }

  /** Events being filtered now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Paths in the open batch. */
  get batched(): number {
    return this.#batch.size;
  }

  get paused(): boolean {
    return this.#pause.paused;
  }

  /** Events held while paused. */
  get buffered(): number {
    return this.#pause.count;
  }

  /** Takes in a change event; `onSettled` runs once it is filtered and placed. */
  submit(event: ChangeEvent, onSettled: () => void): void {
    this.stats.events++;
    if (this.#pause.hold(event)) return;
    this.#inFlight++;
    void this.#context.work
      .run(() => this.#take(event))
      .catch((err) => this.#out.intakeFailed("path" in event ? event.path : event.to, err))
      .finally(() => {
        this.#inFlight--;
        if (this.#inFlight === 0) wakeAll(this.#waiters.splice(0));
        onSettled();
      });
  }

  /** A changed file a scan found, already filtered by the scanner: into the batch (or held while paused). */
  admitScanned(path: string): void {
    this.stats.events++;
    if (this.#pause.hold({ type: "update", path })) return;
    this.addToBatch(path);
  }

  async #included(path: string, event: ChangeEvent): Promise<boolean> {
    const hook = this.#context.hooks.intake;
    if (!hook.isUsed()) return true;
    const ok = (await hook.promise({ path, event })) !== "exclude";
    if (!ok) this.stats.excluded++;
    return ok;
  }

  async #take(event: ChangeEvent): Promise<void> {
    switch (event.type) {
      case "update":
        if (await this.#included(event.path, event)) this.addToBatch(event.path);
        return;
      case "rescan":
        this.#out.requestScan(event.reason === "overflow" ? "overflow" : "request", [event.path]);
        return;
      case "delete":
        if (!(await this.#included(event.path, event))) return;
        this.stats.coalesced += this.#dropPending(event.path);
        if (this.#out.mayBeRecorded(event.path)) this.#out.enqueue({ type: "delete", path: event.path });
        return;
      case "move":
        return this.#move(event);
    }
  }

  async #move(event: Extract<ChangeEvent, { type: "move" }>): Promise<void> {
    const [fromOk, toOk] = await Promise.all([this.#included(event.from, event), this.#included(event.to, event)]);
    if (!fromOk && !toOk) return;
    if (!toOk) return this.#take({ type: "delete", path: event.from });
    // Pending updates follow the move: an update then a rename uploads to the new path.
    for (const p of [...this.#batch]) {
      if (isUnder(p, event.from)) {
        this.#batch.delete(p);
        this.#batch.add(event.to + p.slice(event.from.length));
      }
    }
    if (fromOk && this.#out.mayBeRecorded(event.from)) this.#out.enqueue({ type: "move", from: event.from, to: event.to });
    // Content not committed under `from` yet would not move with the record: make sure `to` is read itself.
    if (!(fromOk && this.#out.committed(event.from)) && !this.#batch.has(event.to)) {
      const st = await lstatPath(event.to).catch(() => undefined);
      if (st?.isDirectory()) this.#out.requestScan("request", [event.to]);
      else if (st) this.addToBatch(event.to);
    }
  }

  #dropPending(path: string): number {
    let n = 0;
    for (const p of [...this.#batch]) {
      if (isUnder(p, path)) {
        this.#batch.delete(p);
        n++;
      }
    }
    return n;
  }

  /** Adds a path to the open batch (a retry comes back this way); the first path opens the SnapshotSharingWindow. */
  addToBatch(path: string): void {
    if (this.#batch.has(path)) {
      this.stats.coalesced++;
      return;
    }
    this.#batch.add(path);
    if (this.#batchTimer === undefined) {
      this.#batchTimer = this.#context.clock.setTimeout(() => this.closeBatch(), this.#context.parameters.snapshotSharingWindow);
    }
  }

  /** Closes the open batch now and hands it on. */
  closeBatch(): void {
    this.#context.clock.clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    if (this.#batch.size === 0) return;
    const paths = [...this.#batch];
    this.#batch = new Set();
    this.stats.batches++;
    this.#out.snapshotBatch(paths);
  }

  /** Waits until every submitted event is filtered, then closes the batch (drain, end of a scan). */
  async flush(): Promise<void> {
    while (this.#inFlight > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.closeBatch();
  }

  /** Pauses: events are held until `unpause`. */
  pause(): void {
    this.#pause.pause();
  }

  /** The held events, and whether some were lost (then a rescan catches up). */
  unpause(): { events: ChangeEvent[]; overflow: boolean } {
    return this.#pause.release();
  }

  /** Stops the batch timer (shutdown). */
  close(): void {
    this.#context.clock.clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
  }
}
