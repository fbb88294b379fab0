// The peers measured beside the engine: restic (local repository), rclone (to s3rver), find and cp -a (floors).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { timed } from "./lib.mjs";

/** Where plugin-s3 keeps its s3rver runner (it corrects s3rver's listing order; see the file). */
const S3RVER_RUNNER = new URL("../packages/plugin-s3/test/helpers/s3rver-runner.cjs", import.meta.url);

/** Starts s3rver on loopback over `dir` with `bucket`, the way plugin-s3's tests do. Resolves `{ endpoint, stop }`. */
export function startS3rver(dir, bucket) {
  const child = spawn(process.execPath, ["--openssl-legacy-provider", S3RVER_RUNNER.pathname, dir, bucket], { stdio: ["ignore", "pipe", "pipe"] });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  };
  process.once("exit", () => child.kill("SIGKILL"));
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`s3rver did not start: ${err}`));
    }, 20_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /S3RVER_LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ endpoint: `http://127.0.0.1:${m[1]}`, bucket, pid: child.pid, stop });
      }
    });
    child.stderr.on("data", (d) => (err += d));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited ${code}: ${err}`));
    });
  });
}

/** restic against a local repository in `repo`, its cache in `cache`. */
export function restic(repo, cache) {
  const env = { ...process.env, RESTIC_PASSWORD: "rtb-bench", RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: cache };
  const run = (args) => timed("restic", [...args, "--quiet"], { env });
  return {
    init: () => run(["init"]),
    backup: (src) => run(["backup", src]),
    restore: (out) => run(["restore", "latest", "--target", out]),
  };
}

/** rclone against the s3rver `server`, with the options a user copying many files would pass. */
export function rclone(server) {
  const env = {
    ...process.env,
    RCLONE_CONFIG_BENCH_TYPE: "s3",
    RCLONE_CONFIG_BENCH_PROVIDER: "Other",
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: "S3RVER",
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: "S3RVER",
    RCLONE_CONFIG_BENCH_ENDPOINT: server.endpoint,
    RCLONE_CONFIG_BENCH_REGION: "us-east-1",
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: "true",
  };
  // rclone fails its TLS set-up with this variable set, even for a plain-http endpoint.
  delete env.AWS_CA_BUNDLE;
  // rclone's default parallelism (4 transfers, 8 checkers), like the engine's UploadThreadCount 4; --links keeps
  // symlinks (as .rclonelink objects) instead of following them.
  const common = ["--fast-list", "--transfers", "4", "--checkers", "8", "--links"];
  return {
    up: (src, prefix) => timed("rclone", ["copy", src, `bench:${server.bucket}/${prefix}`, ...common], { env }),
    down: (prefix, out) => timed("rclone", ["copy", `bench:${server.bucket}/${prefix}`, out, ...common], { env }),
  };
}

/** The rescan floor: every entry's size and mtime, as `find -printf '%s %T@'` prints them. */
export async function findFloor(src) {
  const r = await timed("sh", ["-c", `find "$1" -printf '%s %T@\\n' | wc -l`, "sh", src]);
  return { ...r, entries: Number(r.stdout.trim()) };
}

/** `cp -a` of the tree: the floor for a full copy. */
export async function cpFloor(src, dir) {
  return timed("cp", ["-a", src, join(dir, "cp-copy")]);
}
