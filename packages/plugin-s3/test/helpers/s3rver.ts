import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** s3rver's fixed credentials (it accepts no others). */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** A running s3rver child process on loopback. */
export interface S3rver {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  readonly pid: number;
  /** Stops the process (by PID) and removes its data directory. Safe to call twice. */
  stop(): Promise<void>;
}

const live = new Set<() => void>();
process.once("exit", () => {
  for (const kill of live) kill();
});

/**
 * Starts s3rver as a child process through `s3rver-runner.cjs` (which corrects its listing order) under
 * `node --openssl-legacy-provider` (its continuation tokens use a legacy cipher, so truncated ListObjectsV2 fails
 * without it), bound to 127.0.0.1 on a port the kernel picks, over a fresh temp directory, with `bucket` created.
 * Resolves once it prints its listening line.
 */
export async function startS3rver(bucket = "rtb-test", timeoutMs = 20_000): Promise<S3rver> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-s3rver-"));
  const runner = fileURLToPath(new URL("./s3rver-runner.cjs", import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ["--openssl-legacy-provider", runner, dir, bucket], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid!;
  const killNow = () => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  live.add(killNow);
  let stopped = false;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    live.delete(killNow);
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, "SIGTERM");
      const timer = setTimeout(() => {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Exited between the check and the kill.
        }
      }, 3000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      let err = "";
      const timer = setTimeout(() => reject(new Error(`s3rver did not start in ${timeoutMs} ms: ${err}`)), timeoutMs);
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /S3RVER_LISTENING (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited with ${code} before listening: ${err}`));
      });
    });
    child.stdout!.resume();
    child.stderr!.resume();
    return { endpoint: `http://127.0.0.1:${port}`, port, bucket, pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
