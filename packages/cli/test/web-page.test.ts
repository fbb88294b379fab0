// The agent's web page in a real browser (Debian's chromium through playwright-core), served by a running `rtb run`:
// live commits, pause and resume, the restore browser at an older moment (download, directory restore), the token,
// path traversal, and /metrics. With RTB_WRITE_SCREENSHOTS=1 the screenshots are written into docs/images/.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, open, readFile, utimes, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { daemonWorkspace, send, startDaemon, stopDaemon, type DaemonWorkspace } from "./helpers/daemon.js";
import { launchBrowser, until, webUrlOf } from "./helpers/browser.js";

const DOCS_IMAGES = resolve(fileURLToPath(import.meta.url), "..", "..", "..", "..", "docs", "images");
const WRITE_SHOTS = process.env.RTB_WRITE_SCREENSHOTS === "1";

interface Setup {
  ws: DaemonWorkspace;
  url: string;
  token: string;
  browser: Browser;
  page: Page;
  /** Closes the file held open for writing. */
  release(): Promise<void>;
}

interface Tree {
  /** Small files under docs/. */
  files: number;
  /** Files of random bytes under media/, of this many MiB each. */
  big?: number[];
  /** Arguments of `rtb run`. */
  args?: string[];
  /** A file (relative to the source) the test holds open for writing until `release()`. */
  held?: string;
}

async function withPage(tree: Tree, fn: (s: Setup) => Promise<void>): Promise<void> {
  const ws = await daemonWorkspace({ webEnabled: true, metricsEnabled: true, webPort: 0 });
  let browser: Browser | undefined;
  let release = async () => undefined;
  try {
    await mkdir(join(ws.src, "docs"), { recursive: true });
    for (let i = 0; i < tree.files; i++) await writeFile(join(ws.src, "docs", `file-${String(i).padStart(5, "0")}.txt`), `file ${i}\n`.repeat(50));
    if (tree.big) await mkdir(join(ws.src, "media"));
    for (const [i, mib] of (tree.big ?? []).entries()) await writeFile(join(ws.src, "media", `video-${i}.bin`), randomBytes(mib << 20));
    const held = tree.held ? await open(join(ws.src, tree.held), "w") : undefined;
    await held?.write("still being written\n");
    let released = false;
    release = async () => {
      if (released) return;
      released = true;
      await held?.close();
      if (tree.held) await utimes(join(ws.src, tree.held), new Date(), new Date());
    };
    const daemon = await startDaemon(ws, tree.args ?? []);
    const url = await webUrlOf(daemon);
    const token = (await readFile(join(ws.dir, "ipc", "web-token"), "utf8")).trim();
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
    await fn({ ws, url, token, browser, page, release });
    assert.is(await stopDaemon(daemon), 0);
  } finally {
    await release();
    await browser?.close();
    await ws.cleanup();
  }
}

const api = (s: Setup, path: string, init: RequestInit = {}) =>
  fetch(`${s.url}${path}`, { ...init, headers: { authorization: `Bearer ${s.token}`, ...(init.headers ?? {}) } });

test("status page: sign-in, a commit shown within a second, pause and resume from the page; the token and traversal refused", async () => {
  await withPage({ files: 3 }, async (s) => {
    // Without the token: the page asks for it and the API refuses.
    await s.page.goto(`${s.url}/`);
    await s.page.locator("#login").waitFor({ state: "visible" });
    assert.is((await fetch(`${s.url}/api/status`)).status, 401);
    assert.is((await fetch(`${s.url}/api/status`, { headers: { authorization: "Bearer wrong-token-wrong-token" } })).status, 401);
    assert.is((await api(s, "/api/pause", { method: "POST" })).status, 403, "a write without the request header");
    await s.page.goto(`${s.url}/login?token=${s.token}`);
    await s.page.locator("#state", { hasText: "monitoring" }).waitFor();

    // A change committed by the daemon is on the page within a second of the commit.
    const path = join(s.ws.src, "docs", "fresh.txt");
    await writeFile(path, "fresh\n");
    await send(s.ws, [{ type: "update", path }]);
    const committedAt = await until("the commit in /api/status", async () => {
      const status = (await (await api(s, "/api/status")).json()) as { commits: { paths: string[] }[] };
      return status.commits.some((c) => c.paths.includes(path)) ? Date.now() : undefined;
    });
    await s.page.locator("#commits li", { hasText: "fresh.txt" }).waitFor({ timeout: 5000 });
    const shownAfter = Date.now() - committedAt;
    assert.ok(shownAfter < 1000, `shown ${shownAfter} ms after the commit`);

    // Pause and resume from the page: the agent's own state follows.
    await s.page.click("#pause");
    await s.page.locator("#state", { hasText: "paused" }).waitFor();
    assert.is(((await (await api(s, "/api/status")).json()) as { agent: { paused: boolean } }).agent.paused, true);
    await s.page.click("#resume");
    await s.page.locator("#state", { hasText: "monitoring" }).waitFor();
    assert.is(((await (await api(s, "/api/status")).json()) as { agent: { paused: boolean } }).agent.paused, false);

    // Traversal in any parameter is refused, with the token.
    for (const bad of [
      "/api/browse/file?path=/etc/../etc/passwd",
      "/api/browse/list?path=../..",
      `/api/browse/tar?path=${encodeURIComponent(`${s.ws.src}/../..`)}`,
      "/api/browse/versions?path=relative/path",
      `/api/browse/list?path=${encodeURIComponent("/a\0b")}`,
    ]) {
      const res = await api(s, bad);
      assert.is(res.status, 400, `${bad}: ${res.status} ${await res.text()}`);
    }
    // Readable on a phone: nothing wider than the screen, on either tab.
    await s.page.setViewportSize({ width: 390, height: 844 });
    for (const tab of ["#tab-status", "#tab-restore"]) {
      await s.page.click(tab);
      await s.page.waitForTimeout(300);
      const [scroll, width] = (await s.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")) as [number, number];
      await s.page.screenshot({ path: join(s.ws.dir, `phone-${tab.slice(5)}.png`), fullPage: true });
      if (process.env.RTB_KEEP_PHONE) await s.page.screenshot({ path: `/tmp/phone-${tab.slice(5)}.png`, fullPage: true });
      assert.ok(scroll <= width, `${tab}: the page is ${scroll} px wide on a ${width} px screen`);
    }
    const restore = await api(s, "/api/browse/restore", {
      method: "POST",
      headers: { "content-type": "application/json", "x-rtb-request": "1" },
      body: JSON.stringify({ path: s.ws.src, target: `${s.ws.dir}/out/../../escape` }),
    });
    assert.is(restore.status, 400);
  });
});

/** Opens `dir` in the restore browser by clicking down from the root, one directory at a time. */
async function browseTo(page: Page, dir: string): Promise<void> {
  await page.locator("#crumbs a", { hasText: "/" }).first().click();
  await page.locator("#crumbs a").nth(1).waitFor({ state: "detached" });
  let depth = 1;
  for (const part of dir.slice(1).split("/")) {
    await page
      .locator("#entries a", { hasText: `${part}/` })
      .first()
      .click();
    await page.locator("#crumbs a").nth(depth++).filter({ hasText: part }).waitFor();
  }
}

/** `ms` as a date and time without a zone, in time zone `tz`, to the millisecond ("2026-12-07 09:38:14.250"). */
function localTime(ms: number, tz: string): string {
  const fields = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" } as const;
  const text = new Intl.DateTimeFormat("sv-SE", { timeZone: tz, ...fields }).format(new Date(ms));
  return `${text}.${String(new Date(ms).getUTCMilliseconds()).padStart(3, "0")}`;
}

/** The time of the newest commit the status API lists for `path`, once there is one other than `not`. */
const committed = (s: Setup, path: string, not?: string) =>
  until(`${path} committed`, async () => {
    const status = (await (await api(s, "/api/status")).json()) as { commits: { time: string; paths: string[] }[] };
    return status.commits.find((c) => c.paths.includes(path) && c.time !== not)?.time;
  });

test("restore browser: an older moment from the commit list, a file downloaded with its old bytes, a directory restored", async () => {
  await withPage({ files: 0 }, async (s) => {
    const docs = join(s.ws.src, "docs");
    const first = join(docs, "report.txt");
    const notes = join(docs, "sub", "notes.txt");
    await mkdir(join(docs, "sub"), { recursive: true });
    await writeFile(first, "the first draft\n");
    await writeFile(notes, "notes\n");
    await send(
      s.ws,
      [first, notes].map((path) => ({ type: "update", path })),
    );
    const before = await committed(s, first);
    await writeFile(first, "the second draft, longer\n");
    await send(s.ws, [{ type: "update", path: first }]);
    const after = await committed(s, first, before);
    assert.ok(after > before);

    await s.page.goto(`${s.url}/login?token=${s.token}`);
    await s.page.click("#tab-restore");
    await s.page.locator("#moment option").nth(1).waitFor({ state: "attached" });
    // The commit list holds the older commit: pick it (the newest commit at or before the first draft's).
    const options = await s.page.locator("#moment option").evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value));
    const older = options
      .filter((v) => v !== "" && v <= before)
      .sort()
      .pop();
    assert.ok(older, `no commit at or before ${before} in ${options.join(" ")}`);
    await s.page.selectOption("#moment", older!);
    await s.page.click("#moment-form button");
    await browseTo(s.page, docs);
    await s.page.locator("#entries a", { hasText: "report.txt" }).click();
    await s.page.locator("#versions tr").nth(1).waitFor();
    const download = s.page.waitForEvent("download");
    await s.page.click("#download");
    const file = await (await download).path();
    assert.is(await readFile(file, "utf8"), "the first draft\n");
    await s.page.screenshot({ path: WRITE_SHOTS ? join(DOCS_IMAGES, "web-restore.png") : join(s.ws.dir, "restore.png"), fullPage: true });

    // Restore the directory as of now into a target typed on the page.
    await s.page.fill("#moment-text", "");
    await s.page.selectOption("#moment", "");
    await s.page.click("#moment-form button");
    await s.page.locator("#entries tr", { hasText: "sub/" }).locator("button").click();
    const target = join(s.ws.dir, "restored");
    await s.page.fill("#restore-target", target);
    await s.page.click("#restore-form button");
    await s.page.locator("#restore-result", { hasText: "restored" }).waitFor();
    assert.is(await readFile(join(target, docs.slice(1), "sub", "notes.txt"), "utf8"), "notes\n");

    // A time typed without a zone is the browser's local time, as the page shows times: in New York, the local
    // time of the first commit shows the first draft.
    const ny = await s.browser.newContext({ timezoneId: "America/New_York", acceptDownloads: true });
    try {
      const page = await ny.newPage();
      await page.goto(`${s.url}/login?token=${s.token}`);
      await page.click("#tab-restore");
      await page.fill("#moment-text", localTime(Date.parse(before), "America/New_York"));
      await page.click("#moment-form button");
      await browseTo(page, docs);
      await page.locator("#entries a", { hasText: "report.txt" }).click();
      const old = page.waitForEvent("download");
      await page.click("#download");
      assert.is(await readFile((await (await old).path())!, "utf8"), "the first draft\n");
    } finally {
      await ny.close();
    }

    // The metrics moved with the backup, and parse as Prometheus text.
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /^# TYPE /m);
  });
});

test("status page during an initial backup: its progress, a file held open for writing, then every file committed", async () => {
  await withPage({ files: 1500, big: [64, 64], args: ["--initial-backup"], held: "docs/being-written.log" }, async (s) => {
    await s.page.goto(`${s.url}/login?token=${s.token}`);
    // The file the test holds open keeps the initial backup from finishing: the page shows it waiting.
    const waiting = s.page.locator("#queues dt", { hasText: /open for writing|waiting to settle/ }).locator("xpath=following-sibling::dd[1]");
    await until("the held file shown as waiting", async () => ((await waiting.allTextContents()).some((t) => t === "1") ? true : undefined), 30_000);
    await s.page.screenshot({ path: WRITE_SHOTS ? join(DOCS_IMAGES, "web-status.png") : join(s.ws.dir, "initial.png"), fullPage: true });
    await s.release();
    await until(
      "the initial backup committed on the page",
      async () => {
        const text = await s.page.locator("#totals dt", { hasText: "files uploaded" }).locator("xpath=following-sibling::dd[1]").textContent();
        return text === "1503" ? true : undefined;
      },
      60_000,
    );
  });
});

test.run();
