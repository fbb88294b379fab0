import { readFileSync } from "node:fs";
import { isUnder, mountOf, parseMountInfo, type MountInfo } from "@rtbackup/core";
import type { CandidateIndex } from "./CandidateIndex.js";

/** Filesystem types whose calls wait for as long as a server or a userspace daemon does not answer. */
const REMOTE_TYPES = new Set([
  "nfs",
  "nfs4",
  "cifs",
  "smb3",
  "smbfs",
  "9p",
  "ceph",
  "afs",
  "coda",
  "ncpfs",
  "lustre",
  "gpfs",
  "beegfs",
  "glusterfs",
  "fuse",
  "fuseblk",
]);

/** True for a network filesystem or a FUSE one: a stat on it blocks while its server or daemon hangs. */
export function canHang(fsType: string): boolean {
  return REMOTE_TYPES.has(fsType) || fsType.startsWith("fuse.");
}

/** The `st_dev` of a major:minor pair, as glibc's makedev builds it (and Node's stat reports it). */
export function deviceNumber(major: number, minor: number): bigint {
  const M = BigInt(major);
  const m = BigInt(minor);
  return ((M & 0xfffff000n) << 32n) | ((M & 0xfffn) << 8n) | ((m & 0xffffff00n) << 12n) | (m & 0xffn);
}

/**
 * The mounts a writer check can leave alone: of a type that can hang ({@link canHang}), and holding no candidate
 * (no candidate has its device, none lies under it). A process's descriptor on such a mount cannot be a candidate, so
 * it need not be stat'ed, and a stat there would block the check (and, being synchronous, the agent) for as long as a
 * dead NFS server or a wedged FUSE daemon does not answer.
 */
export class MountsThatHang {
  /** The mounts to leave alone, in mount table order. */
  readonly avoided: readonly MountInfo[];
  readonly #all: readonly MountInfo[];
  readonly #avoided: ReadonlySet<MountInfo>;
  /** Devices of the candidates and of the mounts holding them: never avoided, in any mount namespace. */
  readonly #keep: ReadonlySet<bigint>;

  private constructor(all: readonly MountInfo[], avoided: readonly MountInfo[], keep: ReadonlySet<bigint>) {
    this.#all = all;
    this.avoided = avoided;
    this.#avoided = new Set(avoided);
    this.#keep = keep;
  }

  /**
   * Reads the mount table at `mountinfo` (`/proc/self/mountinfo`). One that cannot be read or parsed gives none to
   * avoid: every descriptor is then stat'ed, as before.
   */
  static find(candidates: CandidateIndex, mountinfo: string): MountsThatHang {
    const all = readMounts(mountinfo);
    if (!all) return new MountsThatHang([], [], new Set());
    const keep = new Set(candidates.files.map((f) => f.dev));
    for (const p of candidates.existingPaths) {
      const holding = mountOf(all, p);
      if (holding) keep.add(deviceNumber(holding.major, holding.minor));
    }
    return new MountsThatHang(all, avoidable(all, keep), keep);
  }

  /**
   * The same for a process in another mount namespace, from its own table (`/proc/PID/mountinfo`), whose mount
   * points its descriptors' paths name. Device numbers are the same in every namespace: a mount is left alone when it
   * can hang and has the device of no candidate and of no mount that holds one here. None when it cannot be read.
   */
  inNamespace(mountinfo: string): MountsThatHang {
    const all = readMounts(mountinfo);
    return all ? new MountsThatHang(all, avoidable(all, this.#keep), this.#keep) : new MountsThatHang([], [], this.#keep);
  }

  /** True when `path` (an open file's path, as readlink of its descriptor gives it) lies on an avoided mount. */
  holds(path: string): boolean {
    if (!path.startsWith("/") || !this.avoided.some((m) => isUnder(path, m.mountPoint))) return false;
    const mount = mountOf(this.#all, path);
    return mount !== undefined && this.#avoided.has(mount);
  }
}

function readMounts(mountinfo: string): MountInfo[] | undefined {
  try {
    return parseMountInfo(readFileSync(mountinfo, "utf8"));
  } catch {
    return undefined;
  }
}

function avoidable(all: readonly MountInfo[], keep: ReadonlySet<bigint>): MountInfo[] {
  return all.filter((m) => canHang(m.fsType) && !keep.has(deviceNumber(m.major, m.minor)));
}
