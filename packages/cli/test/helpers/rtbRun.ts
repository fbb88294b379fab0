// Runs `rtb` the ways a user does: with a working directory and environment of its own, in a shell pipeline, or on a
// pseudo-terminal (util-linux `script`).
import { spawn } from "node:child_process";
import { RTB } from "./daemon.js";

/** What a run printed and how it ended. */
export interface RtbResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `file args` to completion (killed after `timeoutMs`), collecting its output. */
export function runProcess(file: string, args: readonly string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RtbResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], { stdio: ["ignore", "pipe", "pipe"], cwd: options.cwd, env: { ...process.env, ...options.env } });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `rtb args` in `cwd` with extra environment variables. */
export function rtbIn(args: readonly string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RtbResult> {
  return runProcess(process.execPath, [RTB, ...args], options);
}

/** Quotes one word for sh. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The shell words that run `rtb args`. */
export function rtbCommand(args: readonly string[]): string {
  return [process.execPath, RTB, ...args].map(shellQuote).join(" ");
}

/**
 * Runs `command` on a pseudo-terminal (`script -qfec`), so stdout and stderr are a TTY; returns everything the
 * terminal received (as UTF-8 text) and the command's exit status.
 */
export async function onTerminal(command: string, options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RtbResult> {
  return runProcess("script", ["-qfec", command, "/dev/null"], { ...options, env: { COLUMNS: "200", ...options.env } });
}
