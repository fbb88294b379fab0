// What reaches a terminal: the progress line's text (percentage, ETA), a status line that log lines never land in,
// restore's progress line on a real pseudo-terminal (`script`), and names from the index escaped in every line
// restore prints, so no raw ESC or newline from a hostile index reaches a terminal.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { mkdir, mkdtemp, readdir, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage, Repository, dataKey, loadTree, openRepository } from "@rtbackup/core";
import { StatusLine } from "../src/StatusLine.js";
import { estimateRemainingMs, formatDuration, formatProgress } from "../src/progressLine.js";
import { RTB, rtb } from "./helpers/daemon.js";

test("formatProgress: percentage rounded down, sizes or counts, ETA once there is a rate", () => {
  const rows: [Parameters<typeof formatProgress>, string][] = [
    [[{ phase: "scanning", counters: "12 files" }, 3_000, undefined], "scanning: 12 files, 3s"],
    [[{ phase: "uploading", counters: "3 files", done: 1, total: 3 }, 65_000, undefined], "uploading: 33% (1/3), 3 files, ETA --, 1m05s"],
    [[{ phase: "uploading", counters: "", done: 999, total: 1000 }, 1_000, 1_000], "uploading: 99% (999/1000), ETA 1s, 1s"],
    [
      [{ phase: "restoring", counters: "2/2 entries", done: 2048, total: 2048, unit: "bytes" }, 7_200_000, 0],
      "restoring: 100% (2.0 KiB/2.0 KiB), 2/2 entries, ETA 0s, 2h00m",
    ],
    [[{ phase: "restoring", counters: "x", done: 5, total: 3 }, 0, 0], "restoring: 100% (3/3), x, ETA 0s, 0s"],
    [[{ phase: "restoring", counters: "0 entries", done: 0, total: 0 }, 0, 0], "restoring: 100% (0/0), 0 entries, ETA 0s, 0s"],
  ];
  for (const [args, expected] of rows) assert.is(formatProgress(...args), expected);
  assert.is(formatDuration(59_499), "59s");
  assert.is(formatDuration(3_599_000), "59m59s");
  assert.is(formatDuration(-5), "0s");
  assert.is(estimateRemainingMs({ atMs: 0, done: 0 }, { atMs: 0, done: 0 }, 10), undefined, "no rate yet");
  assert.is(estimateRemainingMs({ atMs: 0, done: 10 }, { atMs: 2_000, done: 30 }, 50), 2_000, "20 units in 2 s, 20 left");
  assert.is(estimateRemainingMs({ atMs: 0, done: 0 }, { atMs: 1, done: 50 }, 50), 0, "done");
});

/** A fake terminal stream, and what a terminal would show after its bytes: `\r` to column 0, `ESC[K` erases to the end. */
function fakeTerminal(columns = 40) {
  const stream = Object.assign(new EventEmitter(), { isTTY: true, columns, bytes: "", write: (c: unknown) => ((stream.bytes += String(c)), true) });
  const screen = (): string[] => {
    const lines: string[] = [""];
    let col = 0;
    for (let i = 0; i < stream.bytes.length; i++) {
      const ch = stream.bytes[i]!;
      const row = lines.length - 1;
      if (ch === "\r") col = 0;
      else if (ch === "\n") {
        lines.push("");
        col = 0;
      } else if (stream.bytes.startsWith("\x1b[K", i)) {
        lines[row] = lines[row]!.slice(0, col);
        i += 2;
      } else {
        lines[row] = lines[row]!.slice(0, col) + ch + lines[row]!.slice(col + 1);
        col++;
      }
    }
    return lines;
  };
  return { stream: stream as unknown as NodeJS.WriteStream & { bytes: string }, screen };
}

test("StatusLine: log lines are printed above the status line, never into it; a half-written line is not drawn over", () => {
  const t = fakeTerminal();
  const status = new StatusLine(t.stream, []);
  status.update("uploading: 10%");
  t.stream.write("log: one\n");
  status.update("uploading: 20%");
  t.stream.write("log: tw");
  status.update("uploading: 30%");
  assert.equal(t.screen(), ["log: one", "log: tw"], "the status waits while a line is half written");
  t.stream.write("o\n");
  assert.equal(t.screen(), ["log: one", "log: two", "uploading: 30%"]);
  status.update("uploading: a status much longer than the forty columns of this terminal");
  assert.is(t.screen().at(-1)!.length, 39, "cut to the width");
  status.close(true);
  t.stream.write("after\n");
  assert.equal(t.screen(), ["log: one", "log: two", "uploading: a status much longer than th", "after", ""]);
});

/** Runs rtb with stdout and stderr on a pseudo-terminal (util-linux `script`); returns what the terminal received. */
function rtbOnTerminal(args: string[]): Promise<{ code: number | null; output: string }> {
  const quoted = [process.execPath, RTB, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qfec", `stty cols 200; ${quoted}`, "/dev/null"], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

const EVIL = "evil\u001b[2Jname\n.txt";

test("rtb restore on a terminal: one progress line with a percentage and an ETA, no per-file lines; hostile names escaped everywhere", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-tty-"));
  try {
    const src = join(dir, "src");
    await mkdir(src);
    for (let i = 0; i < 20; i++) await writeFile(join(src, `f${i}.bin`), Buffer.alloc(100_000, i));
    await writeFile(join(src, EVIL), "evil");
    await writeFile(join(src, `${EVIL}.gone`), "its content object is deleted below");
    const store = join(dir, "store");
    const common = ["--store", store, "--state", join(dir, "state")];
    // Format v1, where each file's content is its own object, so that one file's can be deleted below.
    await Repository.open(new LocalDirectoryStorage({ path: store }), { create: { chunkSize: 8 * 1024 * 1024 } });
    const backup = await rtb(["backup", src, ...common, "--no-progress"]);
    assert.is(backup.code, 0, backup.stderr);
    const tree = await loadTree(await openRepository(new LocalDirectoryStorage({ path: store })));
    await unlink(join(store, dataKey(tree.entries.get(join(src, `${EVIL}.gone`))!.chunks[0]!)));

    const tty = await rtbOnTerminal(["restore", "-r", src, "--to", join(dir, "tty"), ...common]);
    assert.is(tty.code, 1, tty.output);
    assert.match(tty.output, /\r\u001b\[Krestoring: 0% \(0 B\/1\.9 MiB\), 0\/23 entries, ETA --, 0s/, "the first line, redrawn in place");
    assert.match(tty.output, /\r\u001b\[Krestoring: 100% \(1\.9 MiB\/1\.9 MiB\), 23\/23 entries, ETA 0s, \d+s/);
    assert.not.match(tty.output, /^restored /m, "no line per file on a terminal");
    assert.match(tty.output, /FAILED \S+\/evil\\x1b\[2Jname\\n\.txt\.gone: /);
    assert.not.match(tty.output.replaceAll("\r\u001b[K", ""), /\u001b/, "the name's ESC never reaches the terminal raw");
    assert.is((await readdir(join(dir, "tty", src.slice(1)))).length, 21, "everything else was restored: 20 files and the hostile name");

    const piped = await rtb(["restore", "-r", src, "--to", join(dir, "piped"), ...common]);
    assert.is(piped.code, 1, piped.stderr);
    assert.ok(piped.stdout.includes(`restored ${src}/evil\\x1b[2Jname\\n.txt\n`), piped.stdout);
    assert.ok(piped.stderr.includes(`FAILED ${src}/evil\\x1b[2Jname\\n.txt.gone: `), piped.stderr);
    assert.not.match(piped.stdout + piped.stderr, /\u001b/, "no raw ESC in either stream");
    assert.is(piped.stdout.split("\n").filter((l) => l.startsWith("restored ")).length, 22, "one line per restored entry, none split by a name");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
