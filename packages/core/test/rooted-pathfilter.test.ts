import { test } from "uvu";
import * as assert from "uvu/assert";
import { defaultPathFilters, RootedPathFilter, type PathFilterRule } from "@rtbackup/core";

const homes = { homeDirectories: ["/home/alice"] };
const rule = (type: PathFilterRule["type"], value: string, action: PathFilterRule["action"]): PathFilterRule => ({ type, value, action });

test("a BackupRoot under a default exclusion is backed up; default rules inside it and outside it still apply", () => {
  const filter = new RootedPathFilter(defaultPathFilters(), ["/tmp/build", "/opt/app", "/var/www", "/home/alice"], homes);
  const table: [string, boolean][] = [
    ["/tmp/build", false],
    ["/tmp/build/src/main.c", false],
    ["/tmp/build/.git/HEAD", true],
    ["/tmp/build/node/.cache/x", true],
    ["/tmp/other/file", true],
    ["/tmp", true],
    ["/opt/app/bin/run", false],
    ["/opt/other", true],
    ["/var/www/index.html", false],
    ["/var/lib/dpkg/status", true],
    ["/var/log/syslog", true],
    ["/home/alice/doc.txt", false],
    ["/home/alice/.config/Code/User/settings.json", true],
  ];
  for (const [path, excluded] of table) assert.is(filter.isExcluded(path), excluded, path);
  const lifted = filter.findings.filter((f) => f.kind === "lifted").map((f) => `${f.root} ${f.rule.value}`);
  assert.equal(lifted.sort(), ["/opt/app /opt", "/tmp/build /tmp", "/var/www /var"]);
  assert.is(filter.findings.filter((f) => f.kind === "excluded").length, 0);
});

test("a root that a rule of the user's own excludes stays excluded and is a finding naming the root and the rule", () => {
  const rules = [rule("Prefix", "/srv/data", "Exclude"), rule("Component", "scratch", "Exclude"), ...defaultPathFilters()];
  const filter = new RootedPathFilter(rules, ["/srv/data/projects", "/home/alice/scratch", "/tmp/keep"], homes);
  assert.ok(filter.isExcluded("/srv/data/projects/a.txt"));
  assert.ok(filter.isExcluded("/home/alice/scratch/b.txt"));
  assert.not.ok(filter.isExcluded("/tmp/keep/c.txt"));
  const excluded = filter.findings.filter((f) => f.kind === "excluded").map((f) => f.message);
  assert.equal(excluded, [
    'BackupRoot /home/alice/scratch is excluded by PathFilter Component "scratch" (Exclude): nothing under it will be backed up; remove the rule or the root',
    'BackupRoot /srv/data/projects is excluded by PathFilter Prefix "/srv/data" (Exclude): nothing under it will be backed up; remove the rule or the root',
  ]);
});

test("a user Include before the defaults decides as before; the deepest root's lifted rules apply to nested roots", () => {
  const rules = [rule("Prefix", "/tmp/keep", "Include"), ...defaultPathFilters()];
  const filter = new RootedPathFilter(rules, ["/", "/var/www", "/var/www/site/.git"], homes);
  assert.not.ok(filter.isExcluded("/tmp/keep/x"));
  assert.ok(filter.isExcluded("/tmp/x"), "the root / lifts nothing");
  assert.ok(filter.isExcluded("/var/www/site/.git/config") === false, "a .git named as a root is backed up");
  assert.ok(filter.isExcluded("/var/www/other/.git/config"), ".git elsewhere under /var/www is still excluded");
  assert.not.ok(filter.isExcluded("/var/www/site/index.html"));
});

test.run();
