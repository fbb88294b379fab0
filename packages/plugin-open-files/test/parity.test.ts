import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LsofWriterCheck, ProcfsWriterCheck } from "@rtbackup/plugin-open-files";
import { ensureLsof } from "./helpers/ensureLsof.js";
import { withHolders, type HolderMode } from "./helpers/Holder.js";

test("procfs and lsof give the same answer on a mixed population of holders", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rtb-parity-"));
  try {
    const modes: (HolderMode | "none")[] = ["r", "w", "a", "u", "none"];
    const files = Array.from({ length: 40 }, (_, i) => {
      const p = join(dir, `f${i} with space`);
      writeFileSync(p, "x");
      return p;
    });
    const link = join(dir, "link");
    symlinkSync(files[1]!, link);
    const procfs = new ProcfsWriterCheck();
    const lsof = new LsofWriterCheck({ lsofBinaryPath: ensureLsof() });
    const expected = [link];
    await withHolders(8, async (holders) => {
      for (let i = 0; i < files.length; i++) {
        const mode = modes[i % modes.length]!;
        if (mode === "none") continue;
        if (mode !== "r") expected.push(files[i]!);
        await holders[i % holders.length]!.open(files[i]!, mode, 3 + Math.floor(i / holders.length));
      }
      const candidates = [...files, link, join(dir, "missing")];
      const a = [...(await procfs.writers(candidates))].sort();
      const b = [...(await lsof.writers(candidates))].sort();
      assert.equal(a, expected.sort(), "procfs");
      assert.equal(b, a, "lsof agrees with procfs");
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
