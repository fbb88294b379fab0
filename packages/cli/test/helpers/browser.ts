// A headless Debian chromium driven by playwright-core, and the daemon's web page address read from its log.
import { existsSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { chromium, type Browser } from "playwright-core";

/** The system browser (`.ci/run` installs Debian's chromium). */
export const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

/** Launches the system chromium headless; root needs --no-sandbox. */
export function launchBrowser(): Promise<Browser> {
  if (!CHROMIUM) throw new Error("no chromium at /usr/bin/chromium: apt-get install chromium (.ci/run does)");
  return chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
}

/** Waits for the daemon's "web: page at http://…/" log line; resolves with the server's base URL. */
export async function webUrlOf(child: ChildProcess & { log?: () => string }, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const log = child.log?.() ?? "";
    const found = /(?:page|metrics) at (http:\/\/[0-9.]+:\d+)\//.exec(log);
    if (found) return found[1]!;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no web address in the daemon's log:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `check` every 25 ms until it returns a value other than undefined, or throws after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
