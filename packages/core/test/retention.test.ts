// Retention on a synthetic timeline: each rule alone, the edges of its window (a version that ends exactly where a
// window begins, one committed exactly at a bucket's end), calendar buckets (weeks from Monday, months, years),
// deleted files kept for a while or forever, and a path deleted and made again.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ConfigValidationError,
  KEEP_EVERYTHING,
  bucketMoments,
  bucketStart,
  formatParametersXml,
  parseConfigObject,
  parseXmlParameters,
  planRetention,
  type RetentionPolicy,
  type Version,
} from "@rtbackup/core";

const H = 3_600_000;
const D = 24 * H;
const local = (y: number, mo: number, d: number, h = 0, mi = 0) => new Date(y, mo - 1, d, h, mi).getTime();
const NOW = local(2026, 6, 17, 12, 30); // a Wednesday

const NONE: RetentionPolicy = { ...KEEP_EVERYTHING, keepWithin: 0, keepDeleted: Number.POSITIVE_INFINITY };
const put = (path: string, time: number): Version => ({ path, time, event: "put", writer: "w", seq: 0 });
const del = (path: string, time: number): Version => ({ path, time, event: "deleted", writer: "w", seq: 0 });

/** The versions kept, as "hours before now: reason". */
function kept(versions: Version[], policy: Partial<RetentionPolicy>) {
  const plan = planRetention(versions, { ...NONE, ...policy }, NOW);
  return plan.verdicts.filter((v) => v.keep).map((v) => `${(NOW - v.version.time) / H}:${v.keep}`);
}

/** /a changed every hour on the hour for three days, the last time 30 minutes ago. */
const hourly = Array.from({ length: 72 }, (_, i) => put("/a", local(2026, 6, 17, 12) - i * H)).reverse();

test("buckets: starts in local time, weeks from Monday, months and years on the calendar; the moments kept", () => {
  assert.is(bucketStart(NOW, "hourly"), local(2026, 6, 17, 12));
  assert.is(bucketStart(NOW, "hourly", 2), local(2026, 6, 17, 10));
  assert.is(bucketStart(NOW, "daily", 1), local(2026, 6, 16));
  assert.is(bucketStart(NOW, "weekly"), local(2026, 6, 15));
  assert.is(bucketStart(local(2026, 6, 14, 9), "weekly"), local(2026, 6, 8), "a Sunday belongs to the week from the Monday before");
  assert.is(bucketStart(local(2026, 3, 31, 9), "monthly", 1), local(2026, 2, 1));
  assert.is(bucketStart(NOW, "yearly", 1), local(2025, 1, 1));
  assert.equal(bucketMoments(NOW, "daily", 3), [NOW, local(2026, 6, 17) - 1, local(2026, 6, 16) - 1]);
  assert.equal(bucketMoments(NOW, "daily", 0), []);
});

test("keepWithin keeps what was visible in the window; the current version always stays", () => {
  assert.equal(kept(hourly, {}), ["0.5:current"]);
  // Visible in the last 3 h: the versions of 12:00 (current), 11:00, 10:00 and the one of 09:00, which 10:00 replaced 2.5 h ago.
  assert.equal(kept(hourly, { keepWithin: 3 * H }), ["3.5:within", "2.5:within", "1.5:within", "0.5:current"]);
  // A version that ended exactly where the window begins is not visible in it.
  assert.equal(kept(hourly, { keepWithin: 2.5 * H }), ["2.5:within", "1.5:within", "0.5:current"]);
});

test("keepLast, and bucket rules keep the version visible at each bucket's end", () => {
  assert.equal(kept(hourly, { keepLast: 3 }), ["2.5:last", "1.5:last", "0.5:current"]);
  // Daily 3: now, the end of the 16th (the 23:00 version) and of the 15th (23:00 too).
  assert.equal(kept(hourly, { keepDaily: 3 }), ["37.5:daily", "13.5:daily", "0.5:current"]);
  // Hourly 3: now, end of 11:xx (11:00), end of 10:xx (10:00).
  assert.equal(kept(hourly, { keepHourly: 3 }), ["2.5:hourly", "1.5:hourly", "0.5:current"]);
  // A version committed exactly at a bucket's end is the one visible there.
  const edge = [put("/e", local(2026, 6, 15)), put("/e", local(2026, 6, 17) - 1), put("/e", local(2026, 6, 17, 1))];
  assert.equal(kept(edge, { keepDaily: 2 }), [`${(NOW - local(2026, 6, 17) + 1) / H}:daily`, "11.5:current"]);
  // Weekly 2: now and the end of last week (Sunday the 14th, 23:59): the oldest version still visible then.
  const weeks = [put("/w", local(2026, 6, 1)), put("/w", local(2026, 6, 10)), put("/w", local(2026, 6, 16))];
  assert.equal(kept(weeks, { keepWeekly: 2 }), [`${(NOW - local(2026, 6, 10)) / H}:weekly`, `${(NOW - local(2026, 6, 16)) / H}:current`]);
  // Monthly 2: now and the end of May (the version of 20 May); yearly 3: also the ends of 2025 and of 2024.
  const long = [put("/m", local(2024, 5, 5)), put("/m", local(2025, 12, 30)), put("/m", local(2026, 5, 20)), put("/m", local(2026, 6, 1))];
  const reasons = planRetention(long, { ...NONE, keepMonthly: 2, keepYearly: 3 }, NOW).verdicts.map((v) => v.keep ?? "-");
  assert.equal(reasons, ["yearly", "yearly", "monthly", "current"]);
});

test("deleted files: kept for keepDeleted after the deletion, then gone whole with their deletion; forever by default", () => {
  const life = [put("/d", NOW - 40 * D), put("/d", NOW - 20 * D), del("/d", NOW - 10 * D)];
  const forever = planRetention(life, NONE, NOW);
  assert.equal(
    forever.verdicts.map((v) => v.keep ?? "-"),
    ["-", "deleted-recently"],
  );
  assert.is(forever.deletions.length, 1);
  const month = planRetention(life, { ...NONE, keepDeleted: 30 * D, keepLast: 5 }, NOW);
  assert.equal(
    month.verdicts.map((v) => v.keep ?? "-"),
    ["last", "last"],
  );
  const week = planRetention(life, { ...NONE, keepDeleted: 7 * D, keepLast: 5, keepWithin: 365 * D }, NOW);
  assert.equal(
    week.verdicts.map((v) => v.keep ?? "-"),
    ["-", "-"],
    "past keepDeleted nothing else keeps it",
  );
  assert.equal(week.deletions, []);
  assert.is(week.forgottenDeletions.length, 1);
  // Deleted, then made again: the old life expires, the new one is current.
  const again = [...life, put("/d", NOW - 2 * D)];
  const plan = planRetention(again, { ...NONE, keepDeleted: 7 * D }, NOW);
  assert.equal(
    plan.verdicts.map((v) => v.keep ?? "-"),
    ["-", "-", "current"],
  );
  assert.is(plan.forgottenDeletions.length, 1);
});

test("retention settings: XML elements and the JS form, periods of any length, forever, and what is refused", () => {
  const xml = (...e: string[]) => `<?xml version="1.0"?>\n<OperatingParameters>\n${e.map((x) => `  ${x}\n`).join("")}</OperatingParameters>\n`;
  const { parameters: p } = parseXmlParameters(
    xml(
      "<RetentionKeepWithin>P45D</RetentionKeepWithin>",
      "<RetentionKeepDaily>30</RetentionKeepDaily>",
      "<RetentionKeepDeleted>forever</RetentionKeepDeleted>",
      "<PruneGracePeriod>48h</PruneGracePeriod>",
    ),
    "rtb.xml",
  );
  assert.is(p.retentionKeepWithin, 45 * D);
  assert.is(p.retentionKeepDaily, 30);
  assert.is(p.retentionKeepDeleted, Number.POSITIVE_INFINITY);
  assert.is(p.pruneGracePeriod, 48 * H);
  assert.match(formatParametersXml({ ...p }), /<RetentionKeepDeleted>forever<\/RetentionKeepDeleted>/);
  assert.match(formatParametersXml({ ...p }), /<RetentionKeepWithin>45d<\/RetentionKeepWithin>/);
  const js = parseConfigObject(
    { parameters: { retentionKeepWithin: "1y", retentionKeepDeleted: "90d", retentionKeepMonthly: 12 } },
    { file: "rtb.config.json", baseDir: "/" },
  );
  assert.is(js.parameters.retentionKeepWithin, 365 * D);
  assert.is(js.parameters.retentionKeepDeleted, 90 * D);
  for (const [element, value, expected] of [
    ["RetentionKeepWithin", "a while", /24h, 30d/],
    ["PruneGracePeriod", "forever", /24h, 30d/],
    ["RetentionKeepDaily", "-1", /whole number from 0/],
  ] as const) {
    try {
      parseXmlParameters(xml(`<${element}>${value}</${element}>`), "rtb.xml");
      assert.unreachable(`${element} ${value}`);
    } catch (err) {
      assert.instance(err, ConfigValidationError);
      const problem = (err as ConfigValidationError).problems[0]!;
      assert.is(problem.subject, `<${element}>`);
      assert.match(problem.message, expected);
      assert.is(problem.line, 3);
    }
  }
});

test.run();
