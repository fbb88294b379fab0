import type { Exec } from "@rtbackup/example-zfs-retention";

/**
 * An in-memory `zfs` for the commands the retention plugin runs (`list -H -p -t snapshot -o name,creation -d 1`,
 * `snapshot`, `destroy`), with creation times from `now()`. Records every call.
 */
export class FakeZfs {
  readonly snapshots = new Map<string, number>();
  readonly calls: string[][] = [];
  readonly datasets: Set<string>;
  readonly #now: () => number;
  failNext: string | undefined;

  constructor(datasets: string[], now: () => number) {
    this.datasets = new Set(datasets);
    this.#now = now;
  }

  readonly exec: Exec = async (file, args) => {
    this.calls.push([file, ...args]);
    const [cmd] = args;
    if (this.failNext === cmd) {
      this.failNext = undefined;
      return { exitCode: 1, stdout: "", stderr: "cannot open 'x': pool I/O is currently suspended\n" };
    }
    if (cmd === "list") {
      const dataset = args.at(-1)!;
      if (!this.datasets.has(dataset)) return { exitCode: 1, stdout: "", stderr: `cannot open '${dataset}': dataset does not exist\n` };
      const rows = [...this.snapshots]
        .filter(([name]) => name.startsWith(`${dataset}@`))
        .sort((a, b) => a[1] - b[1])
        .map(([name, ms]) => `${name}\t${Math.floor(ms / 1000)}\n`);
      return { exitCode: 0, stdout: rows.join(""), stderr: "" };
    }
    if (cmd === "snapshot") {
      const name = args[1]!;
      if (this.snapshots.has(name)) return { exitCode: 1, stdout: "", stderr: `cannot create snapshot '${name}': dataset already exists\n` };
      this.snapshots.set(name, this.#now());
      return { exitCode: 0, stdout: "", stderr: "" };
    }
    if (cmd === "destroy") {
      const name = args[1]!;
      if (!this.snapshots.delete(name)) return { exitCode: 1, stdout: "", stderr: `could not find any snapshots to destroy\n` };
      return { exitCode: 0, stdout: "", stderr: "" };
    }
    return { exitCode: 2, stdout: "", stderr: `unrecognized command '${cmd}'\n` };
  };

  /** Snapshot names of `dataset`, oldest first. */
  of(dataset: string): string[] {
    return [...this.snapshots]
      .filter(([n]) => n.startsWith(`${dataset}@`))
      .sort((a, b) => a[1] - b[1])
      .map(([n]) => n.slice(dataset.length + 1));
  }
}
