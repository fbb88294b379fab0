// listDirectoryStats against the real kernel and Node's own lstat: the same numbers for every kind of entry, names
// that are not UTF-8 as their bytes, and each failure (a missing directory, a symlink or a file in its place, an
// entry that cannot be stat'ed) shaped like Node's fs errors.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { listDirectoryStats } from "../src/index.js";

const FIELDS = ["dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size", "blocks", "mtimeMs", "ctimeMs"] as const;
const TYPES = ["isFile", "isDirectory", "isSymbolicLink", "isFIFO", "isCharacterDevice", "isBlockDevice", "isSocket"] as const;
const NOBODY = 65534;
let dir = "";

test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), "rtb-dirstats-"));
  chmodSync(dir, 0o755);
});
test.after.each(() => {
  spawnSync("chmod", ["-R", "u+rwx", dir]);
  rmSync(dir, { recursive: true, force: true });
});

const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error("expected a throw");
};

test("every name with the same lstat numbers and type as Node's, in one call; a name that is not UTF-8 as its bytes", () => {
  writeFileSync(join(dir, "file"), "x".repeat(5000));
  utimesSync(join(dir, "file"), 1_700_000_000.123456, 1_700_000_000.987654);
  mkdirSync(join(dir, "sub"));
  symlinkSync("nowhere", join(dir, "link"));
  execFileSync("mkfifo", [join(dir, "fifo")]);
  writeFileSync(join(dir, "h\u00e9llo \u{1f600}"), "");
  const raw = Buffer.concat([Buffer.from(dir + "/"), Buffer.from([0x6e, 0xff, 0xfe, 0x78])]);
  writeFileSync(raw, "bytes");
  const listing = listDirectoryStats(dir);
  const expected = ["fifo", "file", "h\u00e9llo \u{1f600}", "link", "n\ufffd\ufffdx", "sub"];
  assert.equal([...listing.names].sort(), expected);
  for (let i = 0; i < listing.names.length; i++) {
    const name = listing.rawName(i);
    const ours = listing.stats(i)!;
    const node = lstatSync(Buffer.concat([Buffer.from(dir + "/"), name]));
    assert.is(listing.errno(i), 0);
    for (const field of FIELDS) assert.is(ours[field], node[field], `${listing.names[i]}: ${field}`);
    for (const type of TYPES) assert.is(ours[type](), node[type](), `${listing.names[i]}: ${type}`);
  }
  const odd = listing.names.indexOf("n\ufffd\ufffdx");
  assert.equal([...listing.rawName(odd)], [0x6e, 0xff, 0xfe, 0x78]);
  assert.is(listDirectoryStats(Buffer.from(dir)).names.length, 6, "a Buffer path lists the same directory");
  assert.equal(listDirectoryStats(join(dir, "sub")).names, [], "an empty directory");
});

test("a missing directory, a symlink to one and a file fail as Node's fs errors do; an entry that cannot be stat'ed has its errno", () => {
  mkdirSync(join(dir, "real"));
  symlinkSync("real", join(dir, "alias"));
  writeFileSync(join(dir, "plain"), "");
  for (const [path, code] of [
    ["missing", "ENOENT"],
    ["alias", "ENOTDIR"],
    ["plain", "ENOTDIR"],
  ] as const) {
    const err = errorOf(() => listDirectoryStats(join(dir, path)));
    assert.is(err.code, code, path);
    assert.is(err.syscall, "open");
    assert.type(err.errno, "number");
  }
  assert.throws(() => listDirectoryStats("a\0b"), /NUL/);

  // A directory that may be read but not searched (r--): its names are listed, and each lstat fails with EACCES.
  // Root is exempt from permissions, so the listing is made as the user nobody.
  const locked = join(dir, "locked");
  mkdirSync(locked);
  writeFileSync(join(locked, "a"), "");
  writeFileSync(join(locked, "b"), "");
  chmodSync(locked, 0o744);
  const addon = resolve(fileURLToPath(import.meta.url), "../../dist/index.js");
  const script = `import(${JSON.stringify(addon)}).then(({ listDirectoryStats }) => {
    const l = listDirectoryStats(${JSON.stringify(locked)});
    console.log(JSON.stringify(l.names.map((n, i) => [n, l.errno(i), l.stats(i) ?? null, l.error(i, "/x/" + n).message, l.error(i, "/x").code])));
  })`;
  const run = spawnSync(
    "setpriv",
    ["--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups", process.execPath, "--input-type=module", "-e", script],
    { encoding: "utf8" },
  );
  assert.is(run.status, 0, run.stderr);
  const rows = (JSON.parse(run.stdout) as [string, number, null, string, string][]).sort();
  assert.equal(rows, [
    ["a", 13, null, "EACCES: permission denied, lstat '/x/a'", "EACCES"],
    ["b", 13, null, "EACCES: permission denied, lstat '/x/b'", "EACCES"],
  ]);
});

test.run();
