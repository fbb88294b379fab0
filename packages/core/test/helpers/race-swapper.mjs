// A hostile local user for restore-race.test.ts, run as an unprivileged uid (plain JS: it is copied to /tmp and run
// by a user who may not be able to read the checkout or its node_modules).
// Usage: node race-swapper.mjs <target> <victim-dir> <victim-file> <json list of directory paths relative to target>
// Loops until killed, as fast as it can, over every directory on the restore path that it can change:
//   (a) a directory on the path (its own, or one just created) is renamed away and replaced by a symlink to the
//       victim directory; a symlink there is turned back into a real directory of its own, so restores keep going
//       through directories it controls;
//   (b) a missing directory is created by it (or planted as a symlink) before the restore gets there;
//   (c) every name that looks like a restore temp file, and every other file in its directories, is replaced by a
//       symlink to the victim file.
// It also watches its directories with fs.watch (inotify) and attacks on every event. Prints "ready <uid>" once.
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, unlinkSync, watch } from "node:fs";
import { join } from "node:path";

const [target, victimDir, victimFile, dirsJson] = process.argv.slice(2);
const dirs = JSON.parse(dirsJson);
const me = process.getuid();
let moved = 0;
let swaps = 0;
const watchers = new Map();

function quiet(fn) {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

function attackDir(path) {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    // (b) not there yet: plant a symlink or a directory of our own, alternately.
    if (swaps++ % 2 === 0) quiet(() => symlinkSync(victimDir, path));
    else quiet(() => mkdirSync(path, { mode: 0o755 }));
    return;
  }
  if (st.isSymbolicLink()) {
    if (swaps++ % 3 === 0 && quiet(() => unlinkSync(path))) quiet(() => mkdirSync(path, { mode: 0o755 }));
    return;
  }
  if (!st.isDirectory()) return;
  if (st.uid === me) {
    attackFiles(path);
    watchDir(path);
  }
  // (a) rename the directory away (root's new 0700 directories too: renaming within a parent we own needs no
  // permission on the directory itself) and put a symlink to the victim in its place.
  if (swaps++ % 2 === 0 && quiet(() => renameSync(path, `${path}.moved-${moved++}`))) quiet(() => symlinkSync(victimDir, path));
}

function attackFiles(dir) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.includes(".moved-")) {
      // Keep what we moved away from piling up.
      if (moved % 64 === 0) quiet(() => rmSync(join(dir, name), { recursive: true, force: true }));
      continue;
    }
    const p = join(dir, name);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory() || st.isSymbolicLink()) continue;
    // (c) a temp file (or a restored file) becomes a symlink to the victim file.
    if (quiet(() => unlinkSync(p))) quiet(() => symlinkSync(victimFile, p));
  }
}

function watchDir(dir) {
  if (watchers.has(dir)) return;
  try {
    const w = watch(dir, () => attackFiles(dir));
    w.on("error", () => {
      watchers.delete(dir);
      quiet(() => w.close());
    });
    watchers.set(dir, w);
  } catch {
    // Not ours (any more), or gone.
  }
}

process.stdout.write(`ready ${me}\n`);
// Synchronous bursts with a turn of the event loop between them, so fs.watch callbacks run too.
function burst() {
  for (let i = 0; i < 50; i++) for (const d of dirs) attackDir(join(target, d));
  if (watchers.size > 256) {
    for (const w of watchers.values()) quiet(() => w.close());
    watchers.clear();
  }
  setImmediate(burst);
}
burst();
