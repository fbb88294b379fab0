// Renders the results of bench/run.mjs as bench/results/latest.md.

const s = (x) => (x === undefined || Number.isNaN(x) ? "–" : `${x < 10 ? x.toFixed(2) : x.toFixed(1)} s`);
const mib = (x) => (x === undefined ? "–" : `${x.toFixed(0)} MiB`);
const ratio = (a, b) => (a === undefined || b === undefined ? "–" : `**${(a / b).toFixed(2)}**`);
const n1 = (x) => (x === undefined ? "–" : (Math.round(x * 10) / 10).toString());

function datasetRows(name, r) {
  if (r.error) return [`| ${name} | FAILED: ${r.error.replace(/\|/g, "/").slice(0, 300)} | | | | | | | |`];
  const rows = [];
  const row = (what, ours, oursRss, peer, peerTime, peerRss, oursCpu, peerCpu) =>
    rows.push(
      `| ${name} | ${what} | ${s(ours)} | ${peer} | ${s(peerTime)} | ${ratio(ours, peerTime)} | ${s(oursCpu)} / ${s(peerCpu)} | ${mib(oursRss)} | ${mib(peerRss)} |`,
    );
  row(
    "initial backup → local store",
    r.rtb_local_backup?.wallSeconds,
    r.rtb_local_backup?.maxRssMiB,
    "restic backup (local repo)",
    r.restic_backup?.seconds,
    r.restic_backup?.maxRssMiB,
    r.rtb_local_backup?.cpuSeconds,
    r.restic_backup?.cpuSeconds,
  );
  row(
    "initial backup → s3rver",
    r.rtb_s3_backup?.wallSeconds,
    r.rtb_s3_backup?.maxRssMiB,
    "rclone copy → s3rver",
    r.rclone_up?.seconds,
    r.rclone_up?.maxRssMiB,
    r.rtb_s3_backup?.cpuSeconds,
    r.rclone_up?.cpuSeconds,
  );
  row(
    `incremental, ${r.touched} touched → local`,
    r.rtb_local_incremental?.wallSeconds,
    r.rtb_local_incremental?.maxRssMiB,
    "restic backup",
    r.restic_incremental?.seconds,
    r.restic_incremental?.maxRssMiB,
    r.rtb_local_incremental?.cpuSeconds,
    r.restic_incremental?.cpuSeconds,
  );
  row(
    `incremental, ${r.touched} touched → s3rver`,
    r.rtb_s3_incremental?.wallSeconds,
    r.rtb_s3_incremental?.maxRssMiB,
    "rclone copy",
    r.rclone_incremental?.seconds,
    r.rclone_incremental?.maxRssMiB,
    r.rtb_s3_incremental?.cpuSeconds,
    r.rclone_incremental?.cpuSeconds,
  );
  row(
    "rescan, unchanged (scan alone)",
    r.rtb_rescan?.scanMs / 1000,
    undefined,
    "find -printf '%s %T@'",
    r.find?.seconds,
    r.find?.maxRssMiB,
    undefined,
    r.find?.cpuSeconds,
  );
  row(
    "rescan, unchanged (whole process)",
    r.rtb_rescan?.wallSeconds,
    r.rtb_rescan?.maxRssMiB,
    "find -printf '%s %T@'",
    r.find?.seconds,
    r.find?.maxRssMiB,
    r.rtb_rescan?.cpuSeconds,
    r.find?.cpuSeconds,
  );
  row(
    "full restore ← local store",
    r.rtb_local_restore?.wallSeconds,
    r.rtb_local_restore?.maxRssMiB,
    "restic restore",
    r.restic_restore?.seconds,
    r.restic_restore?.maxRssMiB,
    r.rtb_local_restore?.cpuSeconds,
    r.restic_restore?.cpuSeconds,
  );
  row(
    "full restore ← s3rver",
    r.rtb_s3_restore?.wallSeconds,
    r.rtb_s3_restore?.maxRssMiB,
    "rclone copy ← s3rver",
    r.rclone_down?.seconds,
    r.rclone_down?.maxRssMiB,
    r.rtb_s3_restore?.cpuSeconds,
    r.rclone_down?.cpuSeconds,
  );
  row(
    "initial backup → local store",
    r.rtb_local_backup?.wallSeconds,
    r.rtb_local_backup?.maxRssMiB,
    "cp -a (floor)",
    r.cp_a?.seconds,
    r.cp_a?.maxRssMiB,
    r.rtb_local_backup?.cpuSeconds,
    r.cp_a?.cpuSeconds,
  );
  return rows;
}

function abc(x) {
  return x ? `${n1(x.A)} / ${n1(x.B)} / ${n1(x.C)}` : "–";
}

/** The Markdown page for one run. */
export function renderMarkdown(meta, results) {
  const lines = [
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
  const names = Object.keys(results.datasets);
  if (names.length) {
    lines.push("## Datasets", "");
    for (const name of names)
      lines.push(
        `- **${name}**: ${results.datasets[name].describe}${results.datasets[name].MiB !== undefined ? ` (${results.datasets[name].files} files, ${results.datasets[name].MiB} MiB)` : ""}`,
      );
    lines.push(
      "",
      "| dataset | measurement | rtb | peer | peer | ratio | CPU rtb / peer | rtb peak RSS | peer peak RSS |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const name of names) lines.push(...datasetRows(name, results.datasets[name]));
    lines.push(
      "",
      "### B2 transactions per 1,000 files (emulator counts; billed classes A / B / C)",
      "",
      "| dataset | files | objects | backup | full restore |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const name of names) {
      const b = results.datasets[name].b2;
      if (b) lines.push(`| ${name} | ${b.files} | ${b.objects} | ${abc(b.backupPer1000)} | ${abc(b.restorePer1000)} |`);
    }
    lines.push("");
  }
  if (results.latency) {
    lines.push(
      "## Real-time path: close → commit",
      "",
      "Bursts of 1,000 files of 4 KiB written back to back by a writer process; the scripted source submits an update event as each close is reported (as a change source does on close-write), SnapshotSharingWindow and BatchUploadConsolidationDelay at 100 ms, local store, live snapshots; commit times from `engine.hooks.commit`. " +
        "First without a stability plugin (no file has a writer), then with ProcfsStabilityPlugin as the daemon runs it.",
      "",
      "| stability check | burst | written in | p50 | p99 | max | last commit after the burst | peak RSS |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const [stability, l] of Object.entries(results.latency)) {
      if (l.error) {
        lines.push(`| ${stability} | FAILED: ${l.error.replace(/\|/g, "/").slice(0, 300)} | | | | | | |`);
        continue;
      }
      for (const [k, v] of [
        ["new files", l.created],
        ["changed files", l.changed],
      ]) {
        lines.push(
          `| ${stability} | ${l.files} ${k} | ${v.burstMs.toFixed(0)} ms | ${v.p50Ms.toFixed(0)} ms | ${v.p99Ms.toFixed(0)} ms | ${v.maxMs.toFixed(0)} ms | ${v.lastCommitAfterBurstMs.toFixed(0)} ms | ${mib(l.maxRssMiB)} |`,
        );
      }
    }
    lines.push("");
  }
  const sc = results.scaling;
  if (sc?.error) lines.push("## Scaling", "", `FAILED: ${sc.error}`, "");
  else if (sc) {
    lines.push(
      "## Scaling",
      "",
      "| StateCache entries | insert | lookup all | iterate all | per million: insert / lookup | peak RSS (at start) | RSS growth per million | database |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const [n, c] of Object.entries(sc.cache))
      lines.push(
        `| ${Number(n).toLocaleString("en")} | ${s(c.insertMs / 1000)} | ${s(c.lookupMs / 1000)} | ${s(c.iterateMs / 1000)} | ${s(c.insert_s_per_million)} / ${s(c.lookup_s_per_million)} | ${mib(c.maxRssMiB)} (${mib(c.baseRssMiB)}) | ${mib(c.rss_growth_MiB_per_million)} | ${mib(c.dbMiB)} |`,
      );
    if (sc.rescan) {
      const r = sc.rescan;
      lines.push(
        "",
        `Rescan of ${r.entries.toLocaleString("en")} real entries (empty files; as many as could be created in the time budget): core's walk + StateCache lookup + unchanged check per entry, unchanged tree.`,
        "",
        "| rescan | find -printf | ratio | per million | peak RSS (at start) | RSS growth per million |",
        "| --- | --- | --- | --- | --- | --- |",
        `| ${s(r.rescan_s)} | ${s(r.find_s)} | **${r.rescan_vs_find_ratio.toFixed(2)}** | ${s(r.rescan_s_per_million)} | ${mib(r.peak_rss_MiB)} (${mib(r.base_rss_MiB)}) | ${mib(r.rss_growth_MiB_per_million)} |`,
      );
    }
    lines.push("");
  }
  const pk = Object.entries(results.packages);
  if (pk.length) {
    lines.push("## Package benchmarks (`packages/*/bench/*.bench.mjs`)", "");
    for (const [name, figures] of pk) {
      lines.push(
        `- **${name}**: ${Object.entries(figures)
          .map(([k, v]) => `${k} ${typeof v === "number" ? Math.round(v * 100) / 100 : JSON.stringify(v)}`)
          .join(", ")}`,
      );
    }
    lines.push("");
  }
  return lines.join("\n");
}
