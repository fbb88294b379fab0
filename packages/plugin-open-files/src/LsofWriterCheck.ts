import { spawn } from "node:child_process";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BackupError,
  commandKind,
  ConfigError,
  durationKind,
  fsPath,
  hasEscapedBytes,
  integerKind,
  isErrno,
  messageOf,
  PluginOptions,
  PROC_MOUNTINFO,
} from "@rtbackup/core";
import { CandidateIndex, type CandidateFile } from "./CandidateIndex.js";
import { MountsThatHang } from "./MountsThatHang.js";
import { isLsofWriteAccess, parseLsofFields } from "./parseLsofFields.js";
import { TimeSlicer } from "./TimeSlicer.js";
import type { WriterCheck } from "./WriterCheck.js";

/** Options of {@link LsofWriterCheck} (and of `LsofStabilityPlugin`). */
export interface LsofCheckOptions {
  /** The lsof binary (DQD's `LSOFBinaryPath`); a name without `/` is looked up in PATH. Default `/usr/bin/lsof`. */
  readonly lsofBinaryPath?: string;
  /** One lsof run longer than this is killed and the check fails, in ms. Default 60,000. */
  readonly timeoutMs?: number;
  /** Most bytes of file names passed to one lsof run; longer lists are split into several runs. Default 131,072. */
  readonly maxArgumentBytes?: number;
}

/** Cumulative counters of {@link LsofWriterCheck}. */
export interface LsofCheckCounters {
  /** Checks run (calls with at least one existing candidate). */
  checks: number;
  /** lsof processes started. */
  runs: number;
  /** Open files lsof reported. */
  openFiles: number;
  /** Total time spent in checks, in ms. */
  durationMs: number;
}

/** The option names used in errors about the binary. */
const BINARY_OPTION = "lsofBinaryPath (LSOFBinaryPath)";

/**
 * Finds which candidate files some process holds open for writing by running lsof on just those files:
 * `lsof -w -n -P -l -F pfaDin0 -- FILE...` (long lists split across runs). Each network or FUSE mount that holds no
 * candidate is passed as `-e MOUNTPOINT`, so lsof does not stat it (or files open on it): lsof stats every mount point,
 * and one on a dead NFS server or a wedged FUSE daemon would hold every check until the timeout. Access modes `w` and `u` (read and write)
 * count as writers. Reported files are matched back to the candidates by device and inode, so lsof's own spelling
 * of the name (escaped characters, another mount of the same file) does not matter.
 *
 * lsof exits 1 when some of the files are not open (or vanished before it looked): that is an answer, not an error.
 * Anything else it complains about, a missing binary, or a run over `timeoutMs` is an error.
 */
export class LsofWriterCheck implements WriterCheck {
  /** Cumulative counters. */
  readonly stats: LsofCheckCounters = { checks: 0, runs: 0, openFiles: 0, durationMs: 0 };
  readonly #binary: string;
  readonly #timeoutMs: number;
  readonly #maxArgumentBytes: number;

  /** @throws ConfigError when an option is invalid. */
  constructor(options: LsofCheckOptions = {}, owner = "LsofWriterCheck") {
    const parsed = parseLsofCheckOptions(options, owner);
    this.#binary = parsed.lsofBinaryPath ?? "/usr/bin/lsof";
    this.#timeoutMs = parsed.timeoutMs ?? 60_000;
    this.#maxArgumentBytes = parsed.maxArgumentBytes ?? 131_072;
  }

  /** The lsof binary this check runs. */
  get binaryPath(): string {
    return this.#binary;
  }

  /**
   * The subset of `paths` some process holds open for writing (each path as given). Paths that do not exist are
   * not writers.
   * @throws ConfigError when the binary cannot be run (naming the configured path); BackupError when lsof fails or
   * times out.
   */
  async writers(paths: readonly string[]): Promise<Set<string>> {
    const result = new Set<string>();
    if (paths.length === 0) return result;
    const started = performance.now();
    const candidates = await CandidateIndex.build(paths, new TimeSlicer(2));
    if (candidates.size === 0) return result;
    this.stats.checks++;
    const aliases = await aliasNonUtf8(candidates.existingPaths);
    try {
      const exempt = MountsThatHang.find(candidates, PROC_MOUNTINFO)
        .avoided.map((m) => m.mountPoint)
        .filter((point) => !point.includes("\uFFFD"));
      for (const chunk of chunkByBytes(aliases.paths, this.#maxArgumentBytes)) {
        const output = await this.#runExempting(chunk, exempt);
        for (const open of parseLsofFields(output)) {
          this.stats.openFiles++;
          if (!isLsofWriteAccess(open.access)) continue;
          const file = matchCandidate(candidates, open.dev, open.inode, open.name);
          if (file) for (const path of file.paths) result.add(path);
        }
      }
    } finally {
      await aliases.remove();
      this.stats.durationMs += performance.now() - started;
    }
    return result;
  }

  /**
   * Runs lsof; a mount exempted with `-e` that is gone by the time lsof reads the table (a snapshot clone released
   * meanwhile) makes lsof refuse the whole run, so it runs again without that one.
   */
  async #runExempting(files: readonly string[], exempt: string[]): Promise<string> {
    for (;;) {
      try {
        return await this.#run(files, exempt);
      } catch (err) {
        if (!(err instanceof MountGone)) throw err;
        exempt.splice(exempt.indexOf(err.point), 1);
      }
    }
  }

  #run(files: readonly string[], exempt: readonly string[]): Promise<string> {
    this.stats.runs++;
    const exemptions = exempt.flatMap((point) => ["-e", point]);
    return new Promise((resolve, reject) => {
      const child = spawn(this.#binary, ["-w", "-n", "-P", "-l", ...exemptions, "-F", "pfaDin0", "--", ...files], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let settled = false;
      const finish = (err: Error | undefined, output?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(output ?? "");
      };
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        finish(new BackupError("PLUGIN_FAILED", `lsof (${this.#binary}) did not finish within ${this.#timeoutMs} ms; killed it`));
      }, this.#timeoutMs);
      child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
      child.on("error", (err) => {
        if (isErrno(err, "ENOENT", "EACCES", "ENOTDIR", "ELOOP")) {
          const code = (err as NodeJS.ErrnoException).code;
          finish(
            new ConfigError(
              BINARY_OPTION,
              `cannot run lsof at "${this.#binary}" (${code}): install lsof (Debian: apt-get install lsof) or set LSOFBinaryPath to where it is`,
              { cause: err },
            ),
          );
        } else {
          finish(new BackupError("PLUGIN_FAILED", `cannot run lsof at "${this.#binary}": ${messageOf(err)}`, { cause: err }));
        }
      });
      child.on("close", (code, signal) => {
        const errText = Buffer.concat(stderr).toString("utf8");
        const unexpected = errText.split("\n").filter((line) => line.trim() !== "" && !/^lsof: status error on /.test(line));
        if (code === 0 || (code === 1 && unexpected.length === 0)) {
          finish(undefined, Buffer.concat(stdout).toString("utf8"));
          return;
        }
        const gone = /^lsof: "-e (.*)" is not a mounted file system/m.exec(errText)?.[1];
        if (gone !== undefined && exempt.includes(gone)) {
          finish(new MountGone(gone));
          return;
        }
        const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
        const detail = unexpected.slice(0, 3).join(" | ");
        finish(new BackupError("PLUGIN_FAILED", `lsof (${this.#binary}) ${how}${detail ? `: ${detail}` : ""}`));
      });
    });
  }
}

/** lsof refused a run because a mount given to `-e` is no longer mounted. */
class MountGone extends Error {
  constructor(readonly point: string) {
    super(`${point} is no longer mounted`);
  }
}

/**
 * Validates {@link LsofCheckOptions} with core's {@link PluginOptions}.
 * @param owner names the options in errors (`<owner>.options.timeoutMs`).
 * @throws ConfigError naming the option and what was expected.
 */
export function parseLsofCheckOptions(options: unknown, owner: string): LsofCheckOptions {
  const o = PluginOptions.read(owner, options, ["lsofBinaryPath", "timeoutMs", "maxArgumentBytes"]);
  // A bare name is looked up in PATH, as DQD's Process.Start did.
  const lsofBinaryPath = o.get("lsofBinaryPath", commandKind);
  const timeoutMs = o.get("timeoutMs", durationKind(true));
  const maxArgumentBytes = o.get("maxArgumentBytes", integerKind(1, 1_048_576, "bytes"));
  return {
    ...(lsofBinaryPath !== undefined && { lsofBinaryPath }),
    ...(timeoutMs !== undefined && { timeoutMs }),
    ...(maxArgumentBytes !== undefined && { maxArgumentBytes }),
  };
}

function matchCandidate(candidates: CandidateIndex, dev: bigint | undefined, inode: bigint | undefined, name: string | undefined): CandidateFile | undefined {
  if (dev !== undefined && inode !== undefined) return candidates.matchExact(dev, inode);
  // lsof leaves out device and inode only when it could not stat the file; its name is the best left.
  return name === undefined ? undefined : candidates.byPath(name);
}

/**
 * Command-line arguments are UTF-8 strings, so a path that is not UTF-8 cannot be handed to lsof as itself: it gets
 * a symlink in a private temporary directory instead. lsof stats its arguments through symlinks and reports the
 * file by device and inode, which is how results are matched back, so the alias finds the same open handles.
 */
async function aliasNonUtf8(paths: readonly string[]): Promise<{ paths: string[]; remove(): Promise<void> }> {
  if (!paths.some(hasEscapedBytes)) return { paths: [...paths], remove: async () => undefined };
  const dir = await mkdtemp(join(tmpdir(), "rtb-lsof-"));
  try {
    const out: string[] = [];
    for (const path of paths) {
      if (!hasEscapedBytes(path)) out.push(path);
      else {
        const alias = join(dir, String(out.length));
        await symlink(fsPath(path), alias);
        out.push(alias);
      }
    }
    return { paths: out, remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Splits paths into runs whose names add up to at most `maxBytes` (a single longer name still gets its own run). */
function* chunkByBytes(paths: readonly string[], maxBytes: number): Generator<string[]> {
  let chunk: string[] = [];
  let bytes = 0;
  for (const path of paths) {
    const size = Buffer.byteLength(path) + 1;
    if (chunk.length > 0 && bytes + size > maxBytes) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(path);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}
