// Path filter throughput: one million isExcluded() checks against DQD's 22 default rules (one `~` rule expanded for
// three users); a typical config (3 includes, 7 excludes, then the defaults); and a worst case of 50 user rules of
// every type whose actions alternate (25 groups, each tested separately). Run after `npx tsc -b`.
import { defaultPathFilters, PathFilter } from "@rtbackup/core";

const passwd = ["root:x:0:0:root:/root:/bin/bash", "alice:x:1000:1000::/home/alice:/bin/bash", "bob:x:1001:1001::/home/bob:/usr/bin/zsh"].join("\n");
const paths = [
  "/home/alice/Documents/projects/report-2024/final/draft.odt",
  "/home/alice/.cache/thumbnails/large/0123456789abcdef.png",
  "/var/lib/postgresql/15/main/base/16384/2619",
  "/home/bob/src/app/.git/objects/ab/cdef0123",
  "/srv/media/photos/2023/07/IMG_0001.jpg",
  "/home/alice/.config/Code/User/workspaceStorage/x/state.vscdb",
  "/usr/local/share/fonts/custom.ttf",
  "/etc/systemd/system/rtb.service",
];
const N = 1_000_000;

function run(label, rules) {
  const filter = new PathFilter(rules, { passwd });
  for (let i = 0; i < 100_000; i++) filter.isExcluded(paths[i & 7]);
  const started = performance.now();
  let excluded = 0;
  for (let i = 0; i < N; i++) if (filter.isExcluded(paths[i & 7])) excluded++;
  const ms = performance.now() - started;
  console.log(`${label}: ${N.toLocaleString("en")} checks in ${ms.toFixed(1)} ms (${((ms * 1e6) / N).toFixed(0)} ns/check, ${excluded} excluded)`);
  return ms;
}

const user = [];
for (let i = 0; i < 50; i++) {
  const type = ["Prefix", "Component", "RegularExpression"][i % 3];
  const value = type === "Prefix" ? `/data/project${i}` : type === "Component" ? `build${i}` : `\\.tmp${i}$`;
  user.push({ type, value, action: i % 4 === 0 ? "Include" : "Exclude" });
}
const typical = [
  { type: "Prefix", value: "/var/www", action: "Include" },
  { type: "Prefix", value: "/var/lib/postgresql-dumps", action: "Include" },
  { type: "Component", value: "keep", action: "Include" },
  { type: "Component", value: "node_modules", action: "Exclude" },
  { type: "Component", value: "target", action: "Exclude" },
  { type: "Component", value: ".venv", action: "Exclude" },
  { type: "Prefix", value: "/home/alice/Downloads", action: "Exclude" },
  { type: "Prefix", value: "/srv/scratch", action: "Exclude" },
  { type: "RegularExpression", value: "\\.(o|pyc|tmp|swp)$", action: "Exclude" },
  { type: "RegularExpression", value: "~/\\.local/share/Trash/", action: "Exclude" },
];
const defaultsMs = run("22 default rules", defaultPathFilters());
const typicalMs = run("10 user rules + 22 defaults", [...typical, ...defaultPathFilters()]);
const manyMs = run("50 alternating user rules + 22 defaults", [...user, ...defaultPathFilters()]);
console.log(
  `BENCH_RESULT ${JSON.stringify({ pathfilter_defaults_1m_checks_ms: Number(defaultsMs.toFixed(1)), pathfilter_32_rules_1m_checks_ms: Number(typicalMs.toFixed(1)), pathfilter_72_rules_1m_checks_ms: Number(manyMs.toFixed(1)) })}`,
);
