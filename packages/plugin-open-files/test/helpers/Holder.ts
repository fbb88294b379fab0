import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

/** How a holder opens a file: read-only, write-only (truncating), append, read-write. */
export type HolderMode = "r" | "w" | "a" | "u";

// A shell that opens and closes files on command, so a test controls exactly which descriptors exist. Each line
// read is "<mode> <fd> <path>" or "c <fd>" (close) or "q"; each is answered with "ok" once done.
const SCRIPT = `
echo ready
while read -r cmd fd path; do
  case "$cmd" in
    r) eval "exec $fd<\\"\\$path\\"" ;;
    w) eval "exec $fd>\\"\\$path\\"" ;;
    a) eval "exec $fd>>\\"\\$path\\"" ;;
    u) eval "exec $fd<>\\"\\$path\\"" ;;
    c) eval "exec $fd>&-" ;;
    q) exit 0 ;;
  esac
  echo ok
done
`;

/**
 * A child process (`sh`) that holds files open as told. It signals readiness on stdout and waits on stdin; the test
 * must `stop()` it in `finally` (killed by PID).
 */
export class Holder {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  #exited = false;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    this.#lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.once("exit", () => (this.#exited = true));
  }

  /**
   * Starts a holder (as another user when `as` is given; in a new mount namespace, a copy of this one, with
   * `namespace`; both need root) and waits until it is ready.
   */
  static async start(as?: { uid: number; gid: number }, options: { namespace?: boolean } = {}): Promise<Holder> {
    const [command, args] = options.namespace
      ? ["unshare", ["--mount", "--propagation", "unchanged", "sh", "-c", SCRIPT, "holder"]]
      : ["sh", ["-c", SCRIPT, "holder"]];
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], ...as });
    const holder = new Holder(child);
    try {
      await holder.#expect("ready");
    } catch (err) {
      await holder.stop();
      throw err;
    }
    return holder;
  }

  /** The holder's process id. */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Opens `path` on descriptor `fd` (3-9) with `mode`, replacing whatever that descriptor held. */
  async open(path: string, mode: HolderMode, fd = 3): Promise<void> {
    await this.#command(`${mode} ${fd} ${path}`);
  }

  /** Closes descriptor `fd`. */
  async close(fd = 3): Promise<void> {
    await this.#command(`c ${fd}`);
  }

  /** Kills the holder (SIGKILL by PID) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.#exited || this.#child.pid === undefined) return;
    const exited = once(this.#child, "exit");
    try {
      process.kill(this.#child.pid, "SIGKILL");
    } catch {
      return;
    }
    await exited;
  }

  async #command(line: string): Promise<void> {
    this.#child.stdin.write(`${line}\n`);
    await this.#expect("ok");
  }

  async #expect(word: string): Promise<void> {
    const deadline = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    try {
      const next = await this.#lines.next();
      if (next.done || next.value !== word) {
        throw new Error(`holder ${this.pid}: expected "${word}", got ${next.done ? "end of output" : JSON.stringify(next.value)}`);
      }
    } finally {
      clearTimeout(deadline);
    }
  }
}

/** Starts holders, and stops every one of them at the end of `body`, even when it throws. */
export async function withHolders<T>(count: number, body: (holders: Holder[]) => Promise<T>): Promise<T> {
  const holders: Holder[] = [];
  try {
    for (let i = 0; i < count; i++) holders.push(await Holder.start());
    return await body(holders);
  } finally {
    await Promise.all(holders.map((h) => h.stop()));
  }
}
