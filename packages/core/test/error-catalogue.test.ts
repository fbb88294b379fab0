import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BackupError, ConfigError, ErrorCodes, IndexDamagedError, StorageError, exitStatusOf, type ErrorCode } from "@rtbackup/core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** The rows of the table in docs/errors.md: code, meaning, exit status. */
function documentedRows(): { code: string; title: string; exit: number }[] {
  const text = readFileSync(join(ROOT, "docs", "errors.md"), "utf8");
  const rows = [];
  for (const line of text.split("\n")) {
    const m = /^\| `([A-Z_]+)` \| (.+?) \| (\d+) \|$/.exec(line);
    if (m) rows.push({ code: m[1]!, title: m[2]!, exit: Number(m[3]) });
  }
  return rows;
}

/** Every .ts file under packages/<name>/src, except the catalogue itself. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ts") && !p.endsWith(join("core", "src", "errors.ts"))) out.push(p);
    }
  };
  for (const pkg of readdirSync(join(ROOT, "packages"))) {
    const src = join(ROOT, "packages", pkg, "src");
    try {
      if (statSync(src).isDirectory()) walk(src);
    } catch {
      // a package without src/
    }
  }
  return out;
}

test("docs/errors.md lists exactly the catalogue, in its order, with the same meaning and exit status", () => {
  const documented = documentedRows();
  const catalogue = Object.entries(ErrorCodes).map(([code, kind]) => ({ code, title: kind.title, exit: kind.exit }));
  assert.ok(documented.length > 0, "no table rows found in docs/errors.md");
  assert.equal(documented, catalogue);
});

test("every code in the catalogue is thrown somewhere outside the catalogue", () => {
  const text = sourceFiles()
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
  // ConfigError and IndexDamagedError carry their codes themselves (errors.ts); StorageError carries STORAGE_FAILED
  // or STORAGE_NOT_FOUND, named where it is thrown.
  const carriedByClass: Partial<Record<ErrorCode, string>> = { CONFIG_INVALID: "new ConfigError(", INDEX_DAMAGED: "new IndexDamagedError(" };
  const unused = Object.keys(ErrorCodes).filter((code) => {
    const byClass = carriedByClass[code as ErrorCode];
    return !text.includes(`"${code}"`) && !(byClass && text.includes(byClass));
  });
  assert.equal(unused, [], `codes nothing throws: ${unused.join(", ")}`);
});

test("exit status: 2 for a configuration error, 4 for a damaged index, 1 for anything else", () => {
  assert.is(exitStatusOf(new ConfigError("rtb.json", "bad")), 2);
  assert.is(exitStatusOf(new IndexDamagedError("batch 7 is missing")), 4);
  assert.is(exitStatusOf(new StorageError("STORAGE_FAILED", "503", { transient: true })), 1);
  assert.is(exitStatusOf(new BackupError("LOCKED", "held")), 1);
  assert.is(exitStatusOf(new Error("plain")), 1);
  assert.is(exitStatusOf("a string"), 1);
});

test.run();
