import { messageOf } from "@rtbackup/core";

/** Why a stream stopped taking output: `closed` (the reader went away: EPIPE, `rtb list | head`) or another error. */
type Lost = { kind: "closed" } | { kind: "error"; message: string };

const lost = new Map<NodeJS.WriteStream, Lost>();
let installed = false;

function guard(stream: NodeJS.WriteStream): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (lost.has(stream)) return;
    lost.set(stream, err.code === "EPIPE" ? { kind: "closed" } : { kind: "error", message: messageOf(err) });
    // Whoever waits for room (a `cat` loop) must not wait forever: wake it; its next write is dropped.
    stream.emit("drain");
  });
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (!lost.has(stream)) return write(chunk, ...rest);
    const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    if (callback) queueMicrotask(callback);
    return true;
  }) as typeof stream.write;
}

/**
 * Standard output and error that a closed reader never crashes: when `rtb list | head` or `rtb restore … | head` stops
 * reading, the write error (EPIPE) is recorded instead of thrown, later writes to that stream are dropped, and the
 * command goes on (a restore finishes; list and cat stop early, see {@link outputGuard.stdoutLost}).
 */
export const outputGuard = {
  /** Installs the guard on process.stdout and process.stderr. Idempotent. */
  install(): void {
    if (installed) return;
    installed = true;
    guard(process.stdout);
    guard(process.stderr);
  },
  /** Why stdout stopped taking output, or undefined while it still does. */
  stdoutLost(): Lost | undefined {
    return lost.get(process.stdout);
  },
};
