#!/usr/bin/env node
// Runs every test file (packages/*/test/**/*.test.ts, examples/*/test/**/*.test.ts) in its own process through
// uvu + tsx, then prints one plain summary line: "N passed, N failed". Exits non-zero if anything failed.
// Usage: node scripts/run-tests.mjs [package-dir-or-file ...] [--filter REGEX]
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
let filter;
const targets = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--filter") filter = new RegExp(args[++i]);
  else targets.push(resolve(args[i]));
}

function findTests(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    if (name === "node_modules" || name === "dist" || name === "dist-test" || name === "fixtures") continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...findTests(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

let files = [];
if (targets.length === 0) {
  for (const group of ["packages", "examples"]) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const pkg of readdirSync(base).sort()) files.push(...findTests(join(base, pkg, "test")));
  }
} else {
  for (const t of targets) files.push(...(t.endsWith(".test.ts") ? [t] : findTests(join(t, "test"))));
}
if (filter) files = files.filter((f) => filter.test(relative(root, f)));

// A file that hangs (a wedged FUSE daemon, a child that never exits) fails instead of holding the whole run.
const fileTimeoutMs = Number(process.env.RTB_TEST_FILE_TIMEOUT_S ?? 300) * 1000;
const uvuBin = join(root, "node_modules", "uvu", "bin.js");
let passed = 0;
let failed = 0;
const failures = [];

/** Runs one file in its own process; resolves with what it printed, its counts, and whether zfs-fuse wedged under it. */
function runFile(file) {
  return new Promise((resolveRun) => {
    const started = Date.now();
    // Each file's own cache home: the history cache `rtb versions` keeps goes there, not into the user's ~/.cache.
    const cacheHome = mkdtempSync(join(tmpdir(), "rtb-test-cache-"));
    const wedgeMark = join(cacheHome, "zfs-fuse-wedged");
    const child = spawn(process.execPath, ["--import", "tsx", uvuBin, dirname(file), `^${escape(file.split("/").pop())}$`], {
      cwd: dirname(file),
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FORCE_COLOR: "0", XDG_CACHE_HOME: cacheHome, RTB_ZFS_WEDGE_MARK: wedgeMark },
      // Its own process group, so a file that hangs can be killed with everything it started.
      detached: true,
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, fileTimeoutMs);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const wedged = existsSync(wedgeMark) ? readFileSync(wedgeMark, "utf8").trim().split("\n") : [];
      rmSync(cacheHome, { recursive: true, force: true });
      if (timedOut) out += `\n(killed: the file ran longer than ${fileTimeoutMs / 1000} s; RTB_TEST_FILE_TIMEOUT_S sets the limit)\n`;
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
      let bad = total - ok - skipped;
      if ((code !== 0 || signal) && bad === 0) bad = 1; // crashed outside a test
      resolveRun({ ok, bad, out, wedged, secs: ((Date.now() - started) / 1000).toFixed(1) });
    });
  });
}

/**
 * After a failed file: a zfs-fuse that wedged under it (or mounts its dead daemon left) is recovered, so it does not
 * hang the files after it (lsof, for one, stats every mount point). Returns what was found, or "".
 */
function recoverZfsFuse() {
  const script = join(root, "packages", "plugin-zfs", "test", "helpers", "zfsFuseHealth.ts");
  if (!existsSync(script)) return "";
  const r = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: root, encoding: "utf8", timeout: 180_000 });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
}

/**
 * Runs a file; one that fails while zfs-fuse wedged under it (its own deadlock: the daemon stopped answering even
 * `zfs list`) runs once more on a recovered daemon, and both results are printed. Any other failure is final.
 */
async function runOne(file) {
  const name = relative(root, file);
  let run = await runFile(file);
  let note = "";
  if (run.bad) {
    const found = recoverZfsFuse();
    const wedged = [...run.wedged, ...(found ? [found] : [])];
    if (wedged.length) {
      note = `    (zfs-fuse wedged during this file: ${wedged.join("; ")}; it was recovered and the file run again. The first run:)\n${indent(run.out)}`;
      run = await runFile(file);
      if (run.bad) recoverZfsFuse();
    }
  }
  passed += run.ok;
  failed += run.bad;
  process.stdout.write(
    `${run.bad ? "FAIL" : "ok  "} ${name} (${run.ok} passed${run.bad ? `, ${run.bad} failed` : ""}, ${run.secs}s${note ? ", second run" : ""})\n`,
  );
  if (note) process.stdout.write(note);
  if (run.bad) {
    failures.push(name);
    process.stdout.write(indent(run.out));
    process.stdout.write(mountNote());
  }
}

function indent(text) {
  return (
    text
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n") + "\n"
  );
}

function escape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A check the whole tree passes, counted like one test file: the formatter (prettier, .prettierrc.json), the linter
 * (eslint.config.mjs) and the shape rules (scripts/check-shape.mjs: file and function sizes, no import circle).
 */
function treeCheck(name, argv, hint) {
  return new Promise((resolveRun) => {
    const started = Date.now();
    const child = spawn(process.execPath, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      if (code === 0) passed++;
      else {
        failed++;
        failures.push(`${name} (${hint})`);
      }
      process.stdout.write(`${code === 0 ? "ok  " : "FAIL"} ${name} (${secs}s)\n`);
      if (code !== 0) process.stdout.write(indent(out));
      resolveRun();
    });
  });
}

if (targets.length === 0 && !filter) {
  const bin = (pkg, path) => join(root, "node_modules", pkg, path);
  await treeCheck(
    "format: prettier --check .",
    [bin("prettier", "bin/prettier.cjs"), "--check", "--log-level", "warn", "."],
    "npx prettier --write . fixes it",
  );
  await treeCheck("lint: eslint .", [bin("eslint", "bin/eslint.js"), "."], "npx eslint . lists the findings");
  await treeCheck("shape: scripts/check-shape.mjs", [join(root, "scripts", "check-shape.mjs")], "files at most 400 lines, functions at most 60");
}
/**
 * Some tests run processes as an unprivileged user (nobody), which must reach the checkout. Run by root from a
 * directory others cannot search (`mktemp -d` makes 0700 ones, a home directory may be one), search permission
 * (o+x, not read) is added to each such ancestor for the run and taken back when the runner exits.
 */
function letOthersSearchCheckout() {
  if (process.getuid?.() !== 0) return;
  const changed = [];
  for (let dir = root; ; dir = dirname(dir)) {
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001);
      changed.push([dir, mode]);
    }
    if (dir === dirname(dir)) break;
  }
  if (changed.length === 0) return;
  process.stdout.write(`(search permission for others added to ${changed.map(([d]) => d).join(", ")} for this run)\n`);
  process.on("exit", () => {
    for (const [dir, mode] of changed) chmodSync(dir, mode);
  });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));
}

/**
 * The ZFS filesystems mounted now (zfs or fuse.zfs), and the type of the filesystem holding the temp directory: the
 * default preset takes ZFS snapshots in wherever a root lies on ZFS, so a machine whose temp directory is on ZFS, or a
 * pool a killed test left mounted, changes what a test runs. Printed at the start and after a failed file.
 */
function mountNote() {
  let lines = [];
  try {
    lines = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(Boolean);
  } catch {
    return "";
  }
  const parsed = lines.map((l) => {
    const fields = l.split(" ");
    const dash = fields.indexOf("-");
    return { point: fields[4].replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))), type: fields[dash + 1] };
  });
  const tmp = tmpdir();
  const holding = parsed.filter((m) => tmp === m.point || tmp.startsWith(m.point === "/" ? "/" : `${m.point}/`)).at(-1);
  const zfs = parsed.filter((m) => m.type === "zfs" || m.type === "fuse.zfs").map((m) => `${m.point} (${m.type})`);
  return `(temp directory ${tmp} is on ${holding?.type ?? "?"}; ZFS mounted: ${zfs.length ? zfs.join(", ") : "none"})\n`;
}

letOthersSearchCheckout();
process.stdout.write(mountNote());
for (const file of files) await runOne(file);
if (failures.length) process.stdout.write(`failed files:\n${failures.map((f) => `  ${f}`).join("\n")}\n`);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
