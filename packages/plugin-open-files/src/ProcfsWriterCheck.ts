import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { isErrno, messageOf, NativeError, numberKind, pathKind, PluginOptions } from "@rtbackup/core";
import { CandidateIndex, type CandidateFile } from "./CandidateIndex.js";
import { MountsThatHang } from "./MountsThatHang.js";
import { TimeSlicer } from "./TimeSlicer.js";
import type { WriterCheck } from "./WriterCheck.js";

/** Options of {@link ProcfsWriterCheck} (and of `ProcfsStabilityPlugin`). */
export interface ProcfsCheckOptions {
  /** Where procfs is mounted. Default `/proc`; a container may see the host's at another path. */
  readonly procRoot?: string;
  /** Longest synchronous stretch of a scan before it lets the event loop run, in ms. Default 2. */
  readonly sliceMs?: number;
}

/** Counters of {@link ProcfsWriterCheck}: cumulative over its life, or for one scan. */
export interface ProcfsScanCounters {
  /** Scans run (calls with at least one existing candidate). */
  scans: number;
  /** Processes whose fd directory was listed. */
  processes: number;
  /** File descriptors stat'ed. */
  fds: number;
  /** Descriptors whose device and inode matched a candidate (their fdinfo was read). */
  matchedFds: number;
  /** Processes or descriptors that vanished between listing and reading (ENOENT, ESRCH). */
  vanished: number;
  /** Processes whose descriptors could not be read (EACCES, EPERM): not root, or a protected process. */
  denied: number;
  /** Descriptors closed and reused for another file between their stat and their fdinfo read. */
  raced: number;
  /** Descriptors whose fdinfo had no readable `flags:` line (counted as writers, to be safe). */
  unknownFlags: number;
  /**
   * Descriptors left alone because they lie on a network or FUSE mount that holds no candidate (a stat there would
   * block while its server or daemon hangs). A process in another mount namespace (a container) is judged by its
   * own mount table, whose mount points its descriptors' paths name.
   */
  avoided: number;
  /** Other errors on single processes or descriptors (skipped). */
  errors: number;
  /** Duration of the last scan (or total duration, cumulatively), in ms. */
  durationMs: number;
}

const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;

/**
 * Finds which candidate files some process holds open for writing by reading procfs: for each process,
 * `/proc/PID/fd/*` is stat'ed (which follows the link to the open file) and matched to the candidates by device and
 * inode; only for a match is `/proc/PID/fdinfo/N` read, whose octal `flags:` give the access mode (`flags & 3`:
 * 1 write-only, 2 read-write count as writers; 0 read-only does not).
 *
 * The agent's own process is scanned like any other: a file it holds open for writing is still being written.
 * The agent's reads (snapshots, uploads, fanotify event descriptors) are read-only and never count.
 *
 * A descriptor on a network or FUSE mount that holds no candidate is not stat'ed (see {@link MountsThatHang}): a stat
 * follows the link to the open file, and on a dead NFS server or a wedged FUSE daemon it would block the agent. A
 * process in another mount namespace is judged by that namespace's mount table, read once per check.
 *
 * Processes and descriptors that vanish mid-scan and processes that may not be inspected are skipped and counted in
 * {@link stats}; without root, other users' files are invisible (see `denied`).
 */
export class ProcfsWriterCheck implements WriterCheck {
  /** Cumulative counters. */
  readonly stats: ProcfsScanCounters = emptyCounters();
  #lastScan: ProcfsScanCounters = emptyCounters();
  readonly #procRoot: string;
  readonly #sliceMs: number;

  /** @throws ConfigError when an option is invalid. */
  constructor(options: ProcfsCheckOptions = {}, owner = "ProcfsWriterCheck") {
    const parsed = parseProcfsCheckOptions(options, owner);
    this.#procRoot = parsed.procRoot ?? "/proc";
    this.#sliceMs = parsed.sliceMs ?? 2;
  }

  /** Counters of the most recent scan. */
  get lastScan(): Readonly<ProcfsScanCounters> {
    return this.#lastScan;
  }

  /**
   * The subset of `paths` some process holds open for writing (each path as given). Paths that do not exist are
   * not writers.
   * @throws NativeError when the process list itself cannot be read (procfs not mounted at `procRoot`).
   */
  async writers(paths: readonly string[]): Promise<Set<string>> {
    const result = new Set<string>();
    if (paths.length === 0) return result;
    const started = performance.now();
    const slicer = new TimeSlicer(this.#sliceMs);
    const candidates = await CandidateIndex.build(paths, slicer);
    if (candidates.size === 0) {
      this.#lastScan = emptyCounters();
      return result;
    }

    const counters = emptyCounters();
    counters.scans = 1;
    const found = new Set<CandidateFile>();
    const own = MountsThatHang.find(candidates, `${this.#procRoot}/self/mountinfo`);
    const namespace = readLink(`${this.#procRoot}/self/ns/mnt`);
    const scope: Scope = { candidates, found, counters, slicer, own, byNamespace: new Map(namespace === undefined ? [] : [[namespace, own]]) };
    for (const pid of this.#listProcesses()) {
      if (slicer.due()) await slicer.yield();
      await this.#scanProcess(pid, scope);
      if (found.size === candidates.size) break;
    }
    for (const file of found) for (const path of file.paths) result.add(path);
    counters.durationMs = performance.now() - started;
    this.#lastScan = counters;
    for (const key of Object.keys(counters) as (keyof ProcfsScanCounters)[]) this.stats[key] += counters[key];
    return result;
  }

  #listProcesses(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.#procRoot);
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException).errno ?? 0;
      throw new NativeError("scandir", Math.abs(errno), `cannot list processes in ${this.#procRoot}: ${messageOf(err)}`);
    }
    return names.filter(isPid);
  }

  async #scanProcess(pid: string, scope: Scope): Promise<void> {
    const { candidates, found, counters, slicer } = scope;
    const base = `${this.#procRoot}/${pid}`;
    let fds: string[];
    try {
      fds = readdirSync(`${base}/fd`);
    } catch (err) {
      countError(err, counters);
      return;
    }
    counters.processes++;
    const hang = this.#mountsThatHang(base, scope);
    for (let i = 0; i < fds.length; i++) {
      // Servers can hold tens of thousands of descriptors: keep slicing inside one process too.
      if ((i & 255) === 255 && slicer.due()) await slicer.yield();
      const fd = fds[i]!;
      if (hang && hang.avoided.length > 0 && hang.holds(readLink(`${base}/fd/${fd}`) ?? "")) {
        counters.avoided++;
        continue;
      }
      let st;
      try {
        st = statSync(`${base}/fd/${fd}`, { throwIfNoEntry: false });
      } catch (err) {
        countError(err, counters);
        // Access is decided per process (ptrace rules): one refusal means every descriptor of it is refused.
        if (isErrno(err, "EACCES", "EPERM", "ESRCH")) return;
        continue;
      }
      counters.fds++;
      if (!st) {
        counters.vanished++;
        continue;
      }
      let file = candidates.match(st.dev, st.ino);
      if (!file || found.has(file)) continue;
      if (file.needsExactCheck) {
        file = this.#confirmExact(`${base}/fd/${fd}`, candidates, counters);
        if (!file || found.has(file)) continue;
      }
      counters.matchedFds++;
      if (this.#isWriter(`${base}/fd/${fd}`, `${base}/fdinfo/${fd}`, file, candidates, counters)) found.add(file);
    }
  }

  /**
   * The mounts to leave alone for the process at `base`: its descriptors' paths name mounts of its own mount
   * namespace, so each namespace's table is read once per check (`/proc/PID/mountinfo`). Undefined when its namespace
   * cannot be read: its descriptors are then stat'ed.
   */
  #mountsThatHang(base: string, scope: Scope): MountsThatHang | undefined {
    const namespace = readLink(`${base}/ns/mnt`);
    if (namespace === undefined) return undefined;
    let hang = scope.byNamespace.get(namespace);
    if (!hang) scope.byNamespace.set(namespace, (hang = scope.own.inNamespace(`${base}/mountinfo`)));
    return hang;
  }

  #confirmExact(fdPath: string, candidates: CandidateIndex, counters: ProcfsScanCounters): CandidateFile | undefined {
    try {
      const st = statSync(fdPath, { bigint: true, throwIfNoEntry: false });
      if (!st) {
        counters.vanished++;
        return undefined;
      }
      return candidates.matchExact(st.dev, st.ino);
    } catch (err) {
      countError(err, counters);
      return undefined;
    }
  }

  #isWriter(fdPath: string, fdinfoPath: string, file: CandidateFile, candidates: CandidateIndex, counters: ProcfsScanCounters): boolean {
    let text: string;
    try {
      text = readFileSync(fdinfoPath, "latin1");
    } catch (err) {
      countError(err, counters);
      return false;
    }
    // The descriptor may have been closed and reused for another file since our stat. Kernels since 5.14 print the
    // inode, which settles it cheaply; otherwise (or if the filesystem numbers its inodes differently there, as
    // overlayfs may) the descriptor is stat'ed again.
    const ino = /^ino:\s*(\d+)\s*$/m.exec(text)?.[1];
    if (ino === undefined || BigInt(ino) !== file.ino) {
      const again = file.needsExactCheck ? this.#confirmExact(fdPath, candidates, counters) : this.#statMatch(fdPath, candidates, counters);
      if (again !== file) {
        counters.raced++;
        return false;
      }
    }
    const flags = /^flags:\s*([0-7]+)\s*$/m.exec(text)?.[1];
    if (flags === undefined) {
      counters.unknownFlags++;
      return true;
    }
    const mode = parseInt(flags, 8) & O_ACCMODE;
    return mode === O_WRONLY || mode === O_RDWR;
  }

  #statMatch(fdPath: string, candidates: CandidateIndex, counters: ProcfsScanCounters): CandidateFile | undefined {
    try {
      const st = statSync(fdPath, { throwIfNoEntry: false });
      return st && candidates.match(st.dev, st.ino);
    } catch (err) {
      countError(err, counters);
      return undefined;
    }
  }
}

/**
 * Validates {@link ProcfsCheckOptions} with core's {@link PluginOptions}.
 * @param owner names the options in errors (`<owner>.options.sliceMs`).
 * @throws ConfigError naming the option and what was expected.
 */
export function parseProcfsCheckOptions(options: unknown, owner: string): ProcfsCheckOptions {
  const o = PluginOptions.read(owner, options, ["procRoot", "sliceMs"]);
  const procRoot = o.get("procRoot", pathKind());
  const sliceMs = o.get("sliceMs", numberKind(0.1, 1000, "milliseconds"));
  return { ...(procRoot !== undefined && { procRoot }), ...(sliceMs !== undefined && { sliceMs }) };
}

function isPid(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** What one scan carries from process to process. */
interface Scope {
  readonly candidates: CandidateIndex;
  readonly found: Set<CandidateFile>;
  readonly counters: ProcfsScanCounters;
  readonly slicer: TimeSlicer;
  /** Mounts whose descriptors are left alone in the agent's own mount namespace. */
  readonly own: MountsThatHang;
  /** The same for each mount namespace (`mnt:[N]`) met so far, the agent's included. */
  readonly byNamespace: Map<string, MountsThatHang>;
}

/** readlink that gives undefined for a link that vanished or may not be read. It never blocks on the target. */
function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

function countError(err: unknown, counters: ProcfsScanCounters): void {
  if (isErrno(err, "ENOENT", "ESRCH")) counters.vanished++;
  else if (isErrno(err, "EACCES", "EPERM")) counters.denied++;
  else counters.errors++;
}

function emptyCounters(): ProcfsScanCounters {
  return {
    scans: 0,
    processes: 0,
    fds: 0,
    matchedFds: 0,
    vanished: 0,
    denied: 0,
    raced: 0,
    unknownFlags: 0,
    avoided: 0,
    errors: 0,
    durationMs: 0,
  };
}
