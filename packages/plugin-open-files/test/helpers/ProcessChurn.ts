import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";

/**
 * Keeps starting short-lived processes (a few at a time) that open one of `files` for appending and exit at once,
 * so a check running meanwhile meets processes and descriptors that vanish under it. `stop()` kills whatever is
 * still running, by PID, and waits for it.
 */
export class ProcessChurn {
  readonly #files: readonly string[];
  readonly #parallel: number;
  readonly #live = new Map<number, ChildProcess>();
  readonly #waiters: { count: number; resolve: () => void }[] = [];
  #running = false;
  #spawned = 0;
  #exited = 0;

  constructor(files: readonly string[], parallel = 4) {
    this.#files = files;
    this.#parallel = parallel;
  }

  /** Processes that have exited so far. */
  get exited(): number {
    return this.#exited;
  }

  /** Starts churning. */
  start(): void {
    this.#running = true;
    for (let i = 0; i < this.#parallel; i++) this.#spawnOne();
  }

  /** Resolves once `count` processes have come and gone (fails after 20 s). */
  waitForSpawned(count: number): Promise<void> {
    if (this.#exited >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.#exited} of ${count} churn processes exited in 20 s`)), 20_000);
      this.#waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /** Stops churning, kills the processes still running (by PID) and waits until they are gone. */
  async stop(): Promise<void> {
    this.#running = false;
    const pending = [...this.#live.values()].map(async (child) => {
      const exited = once(child, "exit");
      try {
        if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      await exited;
    });
    await Promise.all(pending);
  }

  #spawnOne(): void {
    if (!this.#running) return;
    const file = this.#files[this.#spawned++ % this.#files.length]!;
    const child = spawn("sh", ["-c", 'exec 3>>"$1" 4<"$1"; exit 0', "churn", file], { stdio: "ignore" });
    if (child.pid === undefined) {
      child.once("error", () => undefined);
      return;
    }
    const pid = child.pid;
    this.#live.set(pid, child);
    child.once("exit", () => {
      this.#live.delete(pid);
      this.#exited++;
      for (let i = this.#waiters.length - 1; i >= 0; i--) {
        if (this.#exited >= this.#waiters[i]!.count) this.#waiters.splice(i, 1)[0]!.resolve();
      }
      // Not directly: a child started from inside an exit callback can keep libuv reaping children in that one
      // callback round forever, and the event loop (timers, the check under test) never runs.
      setImmediate(() => this.#spawnOne());
    });
  }
}
