import { spawn } from "node:child_process";
import { constants } from "node:os";

/** What a finished command returned. */
export interface ZfsExecResult {
  /** Exit status; 128 + signal number when it was killed by a signal. */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** True when it was killed because it ran longer than `timeoutMs`. */
  readonly timedOut?: boolean;
}

/**
 * Runs a command and collects its output. Resolves whatever the exit status; rejects only when the command could
 * not be started (the Node error, e.g. `ENOENT` or `EACCES`). Tests inject their own.
 */
export type ZfsExec = (file: string, args: readonly string[], options: { readonly timeoutMs: number }) => Promise<ZfsExecResult>;

/**
 * The default {@link ZfsExec}: `spawn` without a shell, `LC_ALL=C` so that messages can be classified, stdin closed,
 * killed with SIGKILL after `timeoutMs`.
 */
export const spawnExec: ZfsExec = (file, args, options) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C", LANG: "C" },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        exitCode: code ?? 128 + (signal ? constants.signals[signal] : 0),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        ...(timedOut ? { timedOut } : {}),
      });
    });
  });
