#!/usr/bin/env node
// fanotify delivery benchmark (root): a burst of 100,000 file writes (new files, 16 bytes each) on a tmpfs this
// script mounts, measured three ways:
//   drain (raw):    reader paused during the burst (FAN_UNLIMITED_QUEUE), then events/s from resume until the
//                   last event has reached JS through the addon alone;
//   drain (plugin): the same through FanotifySourcePlugin into engine.submit (path resolution, translation,
//                   filtering, per-batch de-duplication);
//   live:           the plugin reading while another process writes, with the default 16,384-event queue:
//                   events/s, and whether every file arrived without an overflow.
// Last line: BENCH_RESULT {json}.
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine, silentSink } from "@rtbackup/core";
import { FanotifyGroup, FanotifySourcePlugin, constants as C } from "@rtbackup/plugin-fanotify";

const FILES = 100_000;
const DIRS = 10;
const say = (s) => process.stdout.write(`${s}\n`);

/** Writes FILES new files into `root` from a child process; the last one is `root/zz-end`. */
function burst(root) {
  const code = `
    const fs = require("fs"); const path = require("path");
    const root = ${JSON.stringify(root)};
    for (let d = 0; d < ${DIRS}; d++) fs.mkdirSync(path.join(root, "d" + d), { recursive: true });
    for (let i = 0; i < ${FILES - 1}; i++) fs.writeFileSync(path.join(root, "d" + (i % ${DIRS}), "f" + i), "0123456789abcdef");
    fs.writeFileSync(path.join(root, "zz-end"), "0123456789abcdef");`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", code], { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (status) => (status === 0 ? resolve() : reject(new Error(`writer exited ${status}`))));
  });
}

function clean(root) {
  execFileSync("sh", ["-c", `rm -rf '${root}'/*`]);
}

async function drainRaw(mnt) {
  const group = new FanotifyGroup(
    C.FAN_CLASS_NOTIF | C.FAN_REPORT_FID | C.FAN_REPORT_DIR_FID | C.FAN_REPORT_NAME | C.FAN_REPORT_TARGET_FID | C.FAN_UNLIMITED_QUEUE,
    C.O_RDONLY | C.O_LARGEFILE,
    256 * 1024,
    2,
  );
  try {
    const mask = C.FAN_CREATE | C.FAN_DELETE | C.FAN_RENAME | C.FAN_MODIFY | C.FAN_CLOSE_WRITE | C.FAN_ATTRIB | C.FAN_ONDIR;
    group.mark(mnt, C.FAN_MARK_ADD | C.FAN_MARK_FILESYSTEM, mask);
    let events = 0;
    let batches = 0;
    let done;
    const finished = new Promise((resolve) => (done = resolve));
    group.start((error, batch) => {
      if (error) throw error;
      batches++;
      events += batch.length;
      const last = batch[batch.length - 1];
      if (last && last.name === "zz-end") done(performance.now());
    });
    group.stop();
    await burst(mnt);
    const started = performance.now();
    group.start();
    const ended = await finished;
    const seconds = (ended - started) / 1000;
    return { events, batches, seconds, rate: events / seconds };
  } finally {
    group.close();
  }
}

async function viaPlugin(mnt, paused, queue) {
  const plugin = new FanotifySourcePlugin({ mountPoints: [mnt], queue });
  const engine = new Engine({ log: { sink: silentSink }, plugins: [plugin] });
  const updated = new Set();
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const end = join(mnt, "zz-end");
  engine.setSubmitHandler((event) => {
    if (event.type === "update") {
      updated.add(event.path);
      if (event.path === end) done(performance.now());
    }
  });
  await engine.hooks.initialize.promise();
  try {
    let started;
    if (paused) {
      plugin.pause();
      await burst(mnt);
      started = performance.now();
      plugin.resume();
    } else {
      started = performance.now();
      await burst(mnt);
    }
    const ended = await Promise.race([finished, new Promise((resolve) => setTimeout(() => resolve(undefined), 60_000).unref())]);
    if (ended === undefined) throw new Error("the last file's event never arrived");
    const seconds = (ended - started) / 1000;
    const stats = { ...plugin.stats };
    let missing = 0;
    for (let i = 0; i < FILES - 1; i++) if (!updated.has(join(mnt, `d${i % DIRS}`, `f${i}`))) missing++;
    return { seconds, rate: stats.events / seconds, stats, missing };
  } finally {
    await engine.hooks.shutdown.promise();
  }
}

if (process.getuid?.() !== 0) {
  say("needs root (fanotify filesystem marks, mounting a tmpfs)");
  say(`BENCH_RESULT ${JSON.stringify({ skipped_not_root: 1 })}`);
  process.exit(0);
}

const base = mkdtempSync(join(tmpdir(), "rtb-fan-bench-"));
const mnt = join(base, "mnt");
mkdirSync(mnt);
execFileSync("mount", ["-t", "tmpfs", "-o", "size=2g", "rtb-fanotify-bench", mnt]);
try {
  const writerStarted = performance.now();
  await burst(mnt);
  const writerSeconds = (performance.now() - writerStarted) / 1000;
  say(`writer alone, nothing watching: ${writerSeconds.toFixed(3)} s for ${FILES} files`);
  clean(mnt);
  const raw = await drainRaw(mnt);
  say(`drain, addon only: ${raw.events} events in ${raw.batches} batches, ${raw.seconds.toFixed(3)} s → ${Math.round(raw.rate)} events/s`);
  clean(mnt);
  const drained = await viaPlugin(mnt, true, "unlimited");
  say(
    `drain, through the plugin: ${drained.stats.events} events → ${drained.stats.submitted} submitted in ` +
      `${drained.seconds.toFixed(3)} s → ${Math.round(drained.rate)} events/s, missing files ${drained.missing}`,
  );
  clean(mnt);
  const live = await viaPlugin(mnt, false, "default");
  say(
    `live, default queue: ${live.stats.events} events in ${live.seconds.toFixed(3)} s (writer included) → ` +
      `${Math.round(live.rate)} events/s, ${live.stats.batches} batches, overflows ${live.stats.overflows}, missing files ${live.missing}`,
  );
  const rss = process.memoryUsage().rss / 2 ** 20;
  const peak = process.resourceUsage().maxRSS / 1024;
  say(`RSS now ${rss.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB`);
  say(
    `BENCH_RESULT ${JSON.stringify({
      burst_files: FILES,
      writer_alone_s: Number(writerSeconds.toFixed(3)),
      drain_addon_events_per_s: Math.round(raw.rate),
      drain_plugin_events_per_s: Math.round(drained.rate),
      drain_plugin_missing_files: drained.missing,
      live_events_per_s: Math.round(live.rate),
      live_s: Number(live.seconds.toFixed(3)),
      live_overflows: live.stats.overflows,
      live_missing_files: live.missing,
      rss_mib: Math.round(rss),
      peak_rss_mib: Math.round(peak),
    })}`,
  );
} finally {
  execFileSync("umount", ["-l", mnt]);
  rmSync(base, { recursive: true, force: true });
}
