import { chmodSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

/** What a fake lsof does: print `stdout` and `stderr`, then exit with `exit` (or hang when `hang`). */
export interface FakeLsofBehaviour {
  stdout?: string;
  stderr?: string;
  exit?: number;
  hang?: boolean;
}

/**
 * Writes an executable shell script standing in for lsof, which records each run's file arguments (those after
 * `--`) and its PID, then behaves as told. Returns its path and readers for what it recorded.
 */
export function fakeLsof(dir: string, name: string, behaviour: FakeLsofBehaviour) {
  const script = join(dir, name);
  const out = join(dir, `${name}.stdout`);
  const err = join(dir, `${name}.stderr`);
  const runs = join(dir, `${name}.runs`);
  const pids = join(dir, `${name}.pids`);
  writeFileSync(out, behaviour.stdout ?? "");
  writeFileSync(err, behaviour.stderr ?? "");
  writeFileSync(
    script,
    [
      "#!/bin/sh",
      `echo $$ >> '${pids}'`,
      'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done; shift',
      `for f in "$@"; do printf '%s\\t' "$f" >> '${runs}'; done; echo >> '${runs}'`,
      `cat '${out}'`,
      `cat '${err}' >&2`,
      behaviour.hang ? "exec sleep 300" : `exit ${behaviour.exit ?? 0}`,
      "",
    ].join("\n"),
  );
  chmodSync(script, 0o755);
  return {
    path: script,
    /** The file arguments of each run so far. */
    runs(): string[][] {
      if (!existsSync(runs)) return [];
      return readFileSync(runs, "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => line.split("\t").filter((f) => f !== ""));
    },
    /** PIDs of the runs so far. */
    pids(): number[] {
      if (!existsSync(pids)) return [];
      return readFileSync(pids, "utf8").split("\n").filter(Boolean).map(Number);
    },
  };
}
