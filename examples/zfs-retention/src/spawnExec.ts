import { spawn } from "node:child_process";

/** What running a command returned. */
export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command (no shell). Injectable into the retention plugin so tests need no real ZFS. */
export type Exec = (file: string, args: readonly string[]) => Promise<ExecResult>;

/** The real {@link Exec}: spawns `file` with `args`, collects its output, and kills it after `timeoutMs`. */
export function spawnExec(timeoutMs = 120_000): Exec {
  return (file, args) =>
    new Promise((resolve, reject) => {
      const child = spawn(file, [...args], { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code, signal) => resolve({ exitCode: code ?? (signal ? 128 : 1), stdout, stderr }));
    });
}
