import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// docs/plugins.md promises that a plugin can be written and tested from that page alone: its TypeScript plugin and
// its engine test are extracted here and run as they are written.
const here = fileURLToPath(new URL(".", import.meta.url));
const repo = resolve(here, "../../..");
const require = createRequire(join(repo, "packages/core/package.json"));

/** The first ```ts block after the line `after`. */
function block(markdown: string, after: string): string {
  const start = markdown.indexOf(after);
  assert.ok(start >= 0, `docs/plugins.md has no "${after}"`);
  const match = /```ts\n([\s\S]*?)```/.exec(markdown.slice(start));
  assert.ok(match, `no ts block after "${after}"`);
  return match![1]!;
}

/** Points bare imports at this repository's packages, since the snippets run from a temporary directory. */
function resolveImports(code: string): string {
  return code.replace(/from "(@rtbackup\/core|uvu\/assert|uvu)"/g, (_, name: string) => {
    const path = name === "@rtbackup/core" ? join(repo, "packages/core/dist/index.js") : require.resolve(name);
    return `from "${pathToFileURL(path).href}"`;
  });
}

test("the plugin and the engine test printed in docs/plugins.md run and pass", async () => {
  const doc = await readFile(join(repo, "docs/plugins.md"), "utf8");
  const plugin = block(doc, "A minimal plugin in TypeScript:");
  const engineTest = block(doc, "### A real engine on a temporary directory");
  assert.match(engineTest, `from "../src/index.js"`);
  const dir = await mkdtemp(join(tmpdir(), "rtb-example-docs-"));
  try {
    await writeFile(join(dir, "MaxFileSizePlugin.ts"), resolveImports(plugin));
    await writeFile(join(dir, "doc.test.ts"), resolveImports(engineTest.replace(`from "../src/index.js"`, `from "./MaxFileSizePlugin.ts"`)));
    const result = await new Promise<{ code: number | null; output: string }>((done, fail) => {
      const child = spawn(process.execPath, ["--import", "tsx", join(dir, "doc.test.ts")], {
        cwd: repo,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, FORCE_COLOR: "0" },
      });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      child.on("error", fail);
      child.on("close", (code) => done({ code, output }));
    });
    assert.is(result.code, 0, result.output);
    assert.match(result.output, "Passed:    1");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
