// A scriptable stand-in for the `zfs` command (injected as the plugin's `exec` and `readMountInfo`), loaded from the
// recorded fixtures. It keeps state the way ZFS does (snapshots, clones and their mounts, dependent clones) and
// prints ZFS's own messages, so the plugin's parsing and error handling are exercised on real text.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ZfsExec, ZfsExecResult } from "@rtbackup/plugin-zfs";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");

/** Reads a fixture file (`openzfs/list-filesystems.txt`, ...). */
export function fixture(path: string): string {
  return readFileSync(join(FIXTURES, path), "utf8");
}

interface Row {
  name: string;
  type: string;
  mountpoint: string;
  mounted: string;
  origin: string;
}

interface Failure {
  match: (args: readonly string[]) => boolean;
  stderr: string;
  code: number;
  times: number;
}

/** A fake `zfs` with the state of one of the fixture directories (`openzfs` or `zfs-fuse`). */
export class FakeZfs {
  readonly calls: string[][] = [];
  readonly rows: Row[];
  readonly snapshots: string[];
  mountLines: string[];
  /** Whether `zfs diff` exists (OpenZFS) or not (zfs-fuse). */
  hasDiff: boolean;
  /** What `zfs diff <snap> <fs>` prints. */
  diffOutput = "";
  /** When false, `zfs clone` does not mount the clone (to test the mount check). */
  mountClones = true;
  readonly #failures: Failure[] = [];
  readonly #fsType: string;

  constructor(flavour: "openzfs" | "zfs-fuse") {
    this.rows = fixture(`${flavour}/list-filesystems.txt`)
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [name, type, mountpoint, mounted, origin] = line.split("\t") as [string, string, string, string, string];
        return { name, type, mountpoint, mounted, origin };
      });
    this.snapshots = fixture(`${flavour}/list-snapshots.txt`).split("\n").filter(Boolean);
    this.mountLines = fixture(`${flavour}/mountinfo.txt`).split("\n").filter(Boolean);
    this.hasDiff = flavour === "openzfs";
    this.#fsType = flavour === "openzfs" ? "zfs" : "fuse.zfs";
  }

  /** Makes the next `times` commands whose arguments satisfy `match` fail with this stderr. */
  fail(match: string | ((args: readonly string[]) => boolean), stderr: string, times = 1, code = 1): void {
    const fn = typeof match === "string" ? (args: readonly string[]) => args[0] === match : match;
    this.#failures.push({ match: fn, stderr, code, times });
  }

  /** Adds a mount line (`/proc/self/mountinfo` format) for a dataset. */
  mount(dataset: string, mountpoint: string, fsType = this.#fsType): void {
    const id = 100 + this.mountLines.length;
    const esc = (s: string) => s.replace(/ /g, "\\040");
    this.mountLines.push(`${id} 1 0:${id} / ${esc(mountpoint)} rw,relatime - ${fsType} ${esc(dataset)} rw`);
  }

  /** Removes the mount at this mount point. */
  unmount(mountpoint: string): void {
    const esc = mountpoint.replace(/ /g, "\\040");
    this.mountLines = this.mountLines.filter((l) => l.split(" ")[4] !== esc);
  }

  /** The fake command calls as `zfs a b c` strings. */
  get commandLines(): string[] {
    return this.calls.map((c) => c.join(" "));
  }

  readonly readMountInfo = async (): Promise<string> => this.mountLines.join("\n") + "\n";

  readonly exec: ZfsExec = async (_file, args) => {
    this.calls.push([...args]);
    const failure = this.#failures.find((f) => f.times > 0 && f.match(args));
    if (failure) {
      failure.times -= 1;
      return { exitCode: failure.code, stdout: "", stderr: `${failure.stderr}\n` };
    }
    return this.#run(args);
  };

  #ok(stdout = ""): ZfsExecResult {
    return { exitCode: 0, stdout, stderr: "" };
  }

  #err(stderr: string, exitCode = 1): ZfsExecResult {
    return { exitCode, stdout: "", stderr: `${stderr}\n` };
  }

  #run(args: readonly string[]): ZfsExecResult {
    const [cmd, ...rest] = args;
    const exists = (name: string) => this.rows.some((r) => r.name === name) || this.snapshots.includes(name);
    switch (cmd) {
      case "list": {
        const type = rest[rest.indexOf("-t") + 1];
        const cols = rest[rest.indexOf("-o") + 1];
        if (type === "snapshot" && cols === "name") return this.#ok(this.snapshots.map((s) => `${s}\n`).join(""));
        if (type === "filesystem" && cols === "name,type,mountpoint,mounted,origin") {
          return this.#ok(this.rows.map((r) => `${r.name}\t${r.type}\t${r.mountpoint}\t${r.mounted}\t${r.origin}\n`).join(""));
        }
        return this.#err(`fake zfs: unexpected list ${rest.join(" ")}`, 2);
      }
      case "snapshot": {
        const target = rest[0]!;
        const dataset = target.slice(0, target.indexOf("@"));
        if (!this.rows.some((r) => r.name === dataset)) return this.#err(`cannot open '${dataset}': dataset does not exist`);
        if (exists(target)) return this.#err(`cannot create snapshot '${target}': dataset already exists`);
        this.snapshots.push(target);
        return this.#ok();
      }
      case "clone": {
        const mountpoint = rest.find((a) => a.startsWith("mountpoint="))!.slice("mountpoint=".length);
        const [origin, name] = rest.slice(-2) as [string, string];
        if (!this.snapshots.includes(origin)) return this.#err(`cannot open '${origin}': dataset does not exist`);
        if (exists(name)) return this.#err(`cannot create '${name}': dataset already exists`);
        this.rows.push({ name, type: "filesystem", mountpoint, mounted: "yes", origin });
        if (this.mountClones) this.mount(name, mountpoint);
        return this.#ok();
      }
      case "mount": {
        const row = this.rows.find((r) => r.name === rest[0]);
        if (!row) return this.#err(`cannot open '${rest[0]}': dataset does not exist`);
        this.mount(row.name, row.mountpoint);
        return this.#ok();
      }
      case "destroy": {
        const target = rest[0]!;
        if (target.includes("@")) {
          const i = this.snapshots.indexOf(target);
          if (i < 0) return this.#err(`could not find any snapshots to destroy; check snapshot names.`);
          const dependents = this.rows.filter((r) => r.origin === target);
          if (dependents.length) {
            return this.#err(
              `cannot destroy '${target}': snapshot has dependent clones\nuse '-R' to destroy the following datasets:\n${dependents.map((d) => d.name).join("\n")}`,
            );
          }
          this.snapshots.splice(i, 1);
          return this.#ok();
        }
        const i = this.rows.findIndex((r) => r.name === target);
        if (i < 0) return this.#err(`cannot open '${target}': dataset does not exist`);
        this.unmount(this.rows[i]!.mountpoint);
        this.rows.splice(i, 1);
        return this.#ok();
      }
      case "diff": {
        if (!this.hasDiff) return this.#err(fixture("zfs-fuse/diff-stderr.txt").trim(), 2);
        if (rest.length === 0) return this.#err("missing snapshot argument\nusage:\n\tdiff [-FHth] <snapshot> [snapshot|filesystem]", 2);
        const snap = rest.find((a) => a.includes("@"))!;
        if (!this.snapshots.includes(snap)) return this.#err(`Unable to obtain diffs: \n   ${snap}: dataset does not exist`);
        return this.#ok(this.diffOutput);
      }
      default:
        return this.#err(`unrecognized command '${cmd}'`, 2);
    }
  }
}
