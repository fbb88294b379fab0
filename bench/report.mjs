// Renders the results of bench/run.mjs as bench/results/latest.md.

const s = (x) => (x === undefined || Number.isNaN(x) ? "–" : `${x < 10 ? x.toFixed(2) : x.toFixed(1)} s`);
const mib = (x) => (x === undefined ? "–" : `${x.toFixed(0)} MiB`);
const ratio = (a, b) => (a === undefined || b === undefined ? "–" : `**${(a / b).toFixed(2)}**`);
const n1 = (x) => (x === undefined ? "–" : (Math.round(x * 10) / 10).toString());

/** rtb's figures from one measured process: wall time, peak RSS, CPU. */
const ours = (m) => ({ time: m?.wallSeconds, rss: m?.maxRssMiB, cpu: m?.cpuSeconds });
/** A peer's name and its figures from one measured process. */
const peer = (name, m) => ({ name, time: m?.seconds, rss: m?.maxRssMiB, cpu: m?.cpuSeconds });

/** The comparisons of one dataset's table, in order: what is measured, rtb's figures, the peer's. */
function comparisons(r) {
  const find = peer("find -printf '%s %T@'", r.find);
  return [
    ["initial backup → local store", ours(r.rtb_local_backup), peer("restic backup (local repo)", r.restic_backup)],
    ["initial backup → s3rver", ours(r.rtb_s3_backup), peer("rclone copy → s3rver", r.rclone_up)],
    [`incremental, ${r.touched} touched → local`, ours(r.rtb_local_incremental), peer("restic backup", r.restic_incremental)],
    [`incremental, ${r.touched} touched → s3rver`, ours(r.rtb_s3_incremental), peer("rclone copy", r.rclone_incremental)],
    ["rescan, unchanged (scan alone)", { time: r.rtb_rescan?.scanMs / 1000, rss: undefined, cpu: undefined }, find],
    ["rescan, unchanged (whole process)", ours(r.rtb_rescan), find],
    ["full restore ← local store", ours(r.rtb_local_restore), peer("restic restore", r.restic_restore)],
    ["full restore ← s3rver", ours(r.rtb_s3_restore), peer("rclone copy ← s3rver", r.rclone_down)],
    ["initial backup → local store", ours(r.rtb_local_backup), peer("cp -a (floor)", r.cp_a)],
  ];
}

/** The rows of one dataset in the comparison table (one FAILED row when the dataset failed). */
function datasetRows(name, r) {
  if (r.error) return [`| ${name} | FAILED: ${r.error.replace(/\|/g, "/").slice(0, 300)} | | | | | | | |`];
  return comparisons(r).map(
    ([what, o, p]) =>
      `| ${name} | ${what} | ${s(o.time)} | ${p.name} | ${s(p.time)} | ${ratio(o.time, p.time)} | ${s(o.cpu)} / ${s(p.cpu)} | ${mib(o.rss)} | ${mib(p.rss)} |`,
  );
}

function abc(x) {
  return x ? `${n1(x.A)} / ${n1(x.B)} / ${n1(x.C)}` : "–";
}

/** The Markdown page for one run. */
export function renderMarkdown(meta, results) {
  return [
    ...renderIntro(meta),
    ...renderDatasets(results.datasets),
    ...renderLatency(results.latency),
    ...renderScaling(results.scaling),
    ...renderPackages(results.packages),
  ].join("\n");
}

/** The title, the run's circumstances, and how to read the figures. */
function renderIntro(meta) {
  return [
    `# Benchmark results`,
    "",
    `${meta.date}, scale ${meta.scale}${meta.scaling ? ", with the scaling run" : ""}, ${meta.seconds.toFixed(0)} s in all. ` +
      `${meta.versions.cpus} CPUs, node ${meta.versions.node}; ${meta.versions.restic}; ${meta.versions.rclone}. ` +
      `Load average (1 min) ${meta.loadavg.before[0].toFixed(2)} before, ${meta.loadavg.after[0].toFixed(2)} after: ` +
      "other work on the machine moves every figure, so compare ratios from one run, not times across runs.",
    "",
    "Times are wall-clock seconds of whole processes (start-up included) unless said otherwise; ratio = rtb / peer, " +
      "so above 1 means rtb is slower. Peak RSS is `/usr/bin/time -v`'s maximum resident set size of the process " +
      "(s3rver's own memory and CPU are not counted for either side); CPU is user + system seconds of the process. Data is in the page cache (just written) for every " +
      "contender alike. Every restore is compared with the source (`diff -r`).",
    "",
  ];
}

/** The datasets section: what each is, the comparison table, and the B2 transaction table (nothing without datasets). */
function renderDatasets(datasets) {
  const names = Object.keys(datasets);
  if (!names.length) return [];
  const lines = ["## Datasets", ""];
  for (const name of names)
    lines.push(
      `- **${name}**: ${datasets[name].describe}${datasets[name].MiB !== undefined ? ` (${datasets[name].files} files, ${datasets[name].MiB} MiB)` : ""}`,
    );
  lines.push(
    "",
    "| dataset | measurement | rtb | peer | peer | ratio | CPU rtb / peer | rtb peak RSS | peer peak RSS |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const name of names) lines.push(...datasetRows(name, datasets[name]));
  lines.push(
    "",
    "### B2 transactions per 1,000 files (emulator counts; billed classes A / B / C)",
    "",
    "| dataset | files | objects | backup | full restore |",
    "| --- | --- | --- | --- | --- |",
  );
  for (const name of names) {
    const b = datasets[name].b2;
    if (b) lines.push(`| ${name} | ${b.files} | ${b.objects} | ${abc(b.backupPer1000)} | ${abc(b.restorePer1000)} |`);
  }
  lines.push("");
  return lines;
}

/** A target's verdict for a table cell. */
const met = (ok) => (ok ? "met" : "**not met**");

/** The close → commit section: one row per stability check and kind of burst (nothing when it was not run). */
function renderLatency(latency) {
  if (!latency) return [];
  const lines = [
    "## Real-time path: close → commit",
    "",
    "Bursts of 1,000 files of 4 KiB written back to back by a writer process; the scripted source submits an update event as each close is reported (as a change source does on close-write), SnapshotSharingWindow and BatchUploadConsolidationDelay at 100 ms, local store, live snapshots; commit times from `engine.hooks.commit`. " +
      "First without a stability plugin (no file has a writer), then with ProcfsStabilityPlugin as the daemon runs it.",
    "",
    "Targets (issue 20): a 1,000-file burst with the procfs check p50 ≤ 300 ms and p99 ≤ 1 s; one file changed on an idle daemon p50 ≤ 250 ms (30 rounds, each after the windows have closed).",
    "",
    "| stability check | burst | written in | p50 | p99 | max | last commit after the burst | peak RSS | target |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const [stability, l] of Object.entries(latency)) {
    if (l.error) {
      lines.push(`| ${stability} | FAILED: ${l.error.replace(/\|/g, "/").slice(0, 300)} | | | | | | |`);
      continue;
    }
    for (const [k, v] of [
      ["new files", l.created],
      ["changed files", l.changed],
    ]) {
      const target = stability === "procfs" ? met(v.p50Ms <= 300 && v.p99Ms <= 1000) : "";
      lines.push(
        `| ${stability} | ${l.files} ${k} | ${v.burstMs.toFixed(0)} ms | ${v.p50Ms.toFixed(0)} ms | ${v.p99Ms.toFixed(0)} ms | ${v.maxMs.toFixed(0)} ms | ${v.lastCommitAfterBurstMs.toFixed(0)} ms | ${mib(l.maxRssMiB)} | ${target} |`,
      );
    }
    if (l.idle) {
      const i = l.idle;
      lines.push(
        `| ${stability} | 1 file, idle (${i.rounds} rounds) | | ${i.p50Ms.toFixed(0)} ms | ${i.p99Ms.toFixed(0)} ms | ${i.maxMs.toFixed(0)} ms | | | ${met(i.p50Ms <= 250)} |`,
      );
    }
  }
  lines.push("");
  return lines;
}

/** The scaling section: the StateCache table and the real-files rescan (nothing when it was not run). */
function renderScaling(sc) {
  if (sc?.error) return ["## Scaling", "", `FAILED: ${sc.error}`, ""];
  if (!sc) return [];
  const lines = [
    "## Scaling",
    "",
    "| StateCache entries | insert | lookup all | iterate all | per million: insert / lookup | peak RSS (at start) | RSS growth per million | database |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const [n, c] of Object.entries(sc.cache))
    lines.push(
      `| ${Number(n).toLocaleString("en")} | ${s(c.insertMs / 1000)} | ${s(c.lookupMs / 1000)} | ${s(c.iterateMs / 1000)} | ${s(c.insert_s_per_million)} / ${s(c.lookup_s_per_million)} | ${mib(c.maxRssMiB)} (${mib(c.baseRssMiB)}) | ${mib(c.rss_growth_MiB_per_million)} | ${mib(c.dbMiB)} |`,
    );
  if (sc.rescan) lines.push(...renderRealFiles(sc.rescan));
  lines.push("");
  return lines;
}

/** The real-files rows of the scaling section: initial backup, start-up and unchanged rescan, against issue 20's targets. */
function renderRealFiles(r) {
  // The targets are stated for a million files: below that a row says what it measured, not met or not.
  const verdict = (ok) => (r.entries >= 1_000_000 ? (ok ? "met" : "**not met**") : `(target is for 1M; ${r.entries.toLocaleString("en")} here)`);
  return [
    "",
    `${r.entries.toLocaleString("en")} real entries (empty files, as many as could be created in the time budget), through the engine as \`rtb backup\` runs it (bench/core-child.mjs), local store. Memory: peaks of anonymous and file-backed (LMDB's mapped pages) resident memory apart, sampled every 20 ms.`,
    "",
    "| measurement | rtb | find -printf | ratio | peak anonymous | peak file-backed | target | verdict |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    `| initial backup (killed at half, then restarted: both runs) | ${s(r.initial_s)} | | | ${mib(r.initial_anon_MiB)} | ${mib(r.initial_file_MiB)} | anonymous ≤ 300 MiB | ${verdict(r.initial_anon_MiB <= 300)} |`,
    `| files read again after the SIGKILL at ${s(r.killed_after_s)} | ${r.reread_after_kill.toLocaleString("en")} | | | | | only what was not committed: ${(r.files - r.committed_at_kill).toLocaleString("en")} or fewer (${r.committed_at_kill.toLocaleString("en")} files committed) | ${verdict(r.reread_after_kill <= r.files - r.committed_at_kill)} |`,
    `| start-up (engine start, state cache of every entry) | ${s(r.start_s)} | | | | | ≤ 5 s | ${verdict(r.start_s <= 5)} |`,
    `| unchanged rescan (the scan) | ${s(r.rescan_s)} | ${s(r.find_s)} | **${r.rescan_vs_find_ratio.toFixed(2)}** | ${mib(r.rescan_anon_MiB)} | ${mib(r.rescan_file_MiB)} | ≤ 2× find, anonymous ≤ 200 MiB | ${verdict(r.rescan_vs_find_ratio <= 2 && r.rescan_anon_MiB <= 200)} |`,
    `| unchanged rescan (whole process) | ${s(r.process_s)} | ${s(r.find_s)} | ${(r.process_s / r.find_s).toFixed(2)} | | | | |`,
    ...(r.daemon_idle_anon_MiB === undefined
      ? []
      : [
          `| daemon as \`rtb run\` runs it (fanotify, procfs check): catch-up scan, then ${r.daemon_idle_s} s idle; anonymous at its end (after the catch-up: ${mib(r.daemon_after_catch_up_anon_MiB)}) | ${s(r.daemon_catch_up_s)} | | | ${mib(r.daemon_idle_anon_MiB)} (peak ${mib(r.daemon_peak_anon_MiB)}) | ${mib(r.daemon_peak_file_MiB)} | idle: anonymous ≤ 120 MiB | ${verdict(r.daemon_idle_anon_MiB <= 120)} |`,
        ]),
    ...(r.restore_s === undefined
      ? []
      : [
          `| restore of every entry (${r.restored.toLocaleString("en")}), streamed from a scratch tree on disk, as \`rtb restore\` does | ${s(r.restore_s)} | | | ${mib(r.restore_anon_MiB)} | ${mib(r.restore_file_MiB)} | bounded: anonymous ≤ 300 MiB, as the initial backup | ${verdict(r.restore_anon_MiB <= 300)} |`,
          `| the same restore from the tree as a Map (how every restore ran before) | ${s(r.restore_map_s)} | | | ${mib(r.restore_map_anon_MiB)} | ${mib(r.restore_map_file_MiB)} | | |`,
        ]),
  ];
}

/** The package benchmarks section: each bench's figures on one line (nothing when none ran). */
function renderPackages(packages) {
  const pk = Object.entries(packages);
  if (!pk.length) return [];
  const lines = ["## Package benchmarks (`packages/*/bench/*.bench.mjs`)", ""];
  for (const [name, figures] of pk) {
    lines.push(
      `- **${name}**: ${Object.entries(figures)
        .map(([k, v]) => `${k} ${typeof v === "number" ? Math.round(v * 100) / 100 : JSON.stringify(v)}`)
        .join(", ")}`,
    );
  }
  lines.push("");
  return lines;
}
