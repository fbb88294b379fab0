import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, linkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { decodeName } from "@rtbackup/core";
import type { WriterCheck } from "@rtbackup/plugin-open-files";
import { withHolders } from "./Holder.js";
import { ProcessChurn } from "./ProcessChurn.js";

const isRoot = process.getuid?.() === 0;

function sorted(set: Set<string>): string[] {
  return [...set].sort();
}

/**
 * The behaviour every stability check must share, run against each implementation with real child processes
 * holding files open, so both give the same answers to the same cases.
 */
export function writerCheckCases(name: string, makeCheck: () => WriterCheck): void {
  const test = suite<{ dir: string; check: WriterCheck }>(`${name}: shared cases`, { dir: "", check: undefined as never });
  let seq = 0;
  const file = (ctx: { dir: string }, label: string): string => {
    const path = join(ctx.dir, `${++seq}-${label}`);
    writeFileSync(path, "content\n");
    return path;
  };

  test.before((ctx) => {
    ctx.dir = mkdtempSync(join(tmpdir(), "rtb-openfiles-"));
    ctx.check = makeCheck();
  });
  test.after((ctx) => {
    if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
  });

  test("no candidates: empty answer", async (ctx) => {
    assert.equal(sorted(await ctx.check.writers([])), []);
  });

  test("a file nobody holds open is not a writer", async (ctx) => {
    const f = file(ctx, "idle");
    assert.equal(sorted(await ctx.check.writers([f])), []);
  });

  test("read-only is not a writer; write-only, read-write and append-only are", async (ctx) => {
    const ro = file(ctx, "ro");
    const wo = file(ctx, "wo");
    const rw = file(ctx, "rw");
    const ap = file(ctx, "append");
    await withHolders(1, async ([h]) => {
      await h!.open(ro, "r", 3);
      await h!.open(wo, "w", 4);
      await h!.open(rw, "u", 5);
      await h!.open(ap, "a", 6);
      assert.equal(sorted(await ctx.check.writers([ro, wo, rw, ap])), [ap, rw, wo].sort());
      assert.equal(sorted(await ctx.check.writers([ro])), []);
      assert.equal(sorted(await ctx.check.writers([rw])), [rw]);
    });
  });

  test("a file closed and reopened: every state is seen", async (ctx) => {
    const f = file(ctx, "reopen");
    await withHolders(1, async ([h]) => {
      await h!.open(f, "w");
      assert.equal(sorted(await ctx.check.writers([f])), [f], "open for writing");
      await h!.close();
      assert.equal(sorted(await ctx.check.writers([f])), [], "closed");
      await h!.open(f, "r");
      assert.equal(sorted(await ctx.check.writers([f])), [], "reopened read-only");
      await h!.open(f, "u");
      assert.equal(sorted(await ctx.check.writers([f])), [f], "reopened read-write");
      await h!.close();
      assert.equal(sorted(await ctx.check.writers([f])), [], "closed again");
    });
  });

  test("candidates that do not exist are not writers and do not fail the check", async (ctx) => {
    const f = file(ctx, "exists");
    const gone = join(ctx.dir, "never-created");
    const deleted = file(ctx, "deleted");
    rmSync(deleted);
    await withHolders(1, async ([h]) => {
      await h!.open(f, "w");
      assert.equal(sorted(await ctx.check.writers([gone, f, deleted])), [f]);
      assert.equal(sorted(await ctx.check.writers([gone, deleted])), []);
    });
  });

  test("a candidate whose name is not UTF-8 is checked by its bytes", async (ctx) => {
    // The holder opens a UTF-8 hard link of the same file; the check is asked about the non-UTF-8 name.
    const bytes = Buffer.concat([Buffer.from(`${ctx.dir}/${++seq}-bad`), Buffer.of(0xff), Buffer.from("name")]);
    writeFileSync(bytes, "content\n");
    const plain = join(ctx.dir, `${++seq}-plain-link`);
    linkSync(bytes, plain);
    const path = decodeName(bytes);
    await withHolders(1, async ([h]) => {
      await h!.open(plain, "w");
      assert.equal(sorted(await ctx.check.writers([path])), [path]);
      await h!.close();
      assert.equal(sorted(await ctx.check.writers([path])), []);
    });
  });

  test("a reader and a writer on one file; the answer changes when the writer exits", async (ctx) => {
    const f = file(ctx, "shared");
    await withHolders(2, async ([reader, writer]) => {
      await reader!.open(f, "r");
      await writer!.open(f, "a");
      assert.equal(sorted(await ctx.check.writers([f])), [f]);
      await writer!.stop();
      assert.equal(sorted(await ctx.check.writers([f])), []);
    });
  });

  test("among many candidates, exactly those with writers are returned", async (ctx) => {
    const files = Array.from({ length: 60 }, (_, i) => file(ctx, `many-${i}`));
    const written = [files[3]!, files[17]!, files[42]!, files[59]!];
    await withHolders(2, async ([a, b]) => {
      await a!.open(written[0]!, "w", 3);
      await a!.open(written[1]!, "u", 4);
      await b!.open(written[2]!, "a", 3);
      await b!.open(written[3]!, "w", 4);
      await b!.open(files[5]!, "r", 5);
      assert.equal(sorted(await ctx.check.writers(files)), [...written].sort());
    });
  });

  test("a file opened through a symlink matches its real path, and the reverse", async (ctx) => {
    const real = file(ctx, "real");
    const link = join(ctx.dir, `${++seq}-link`);
    symlinkSync(real, link);
    const real2 = file(ctx, "real2");
    const link2 = join(ctx.dir, `${++seq}-link2`);
    symlinkSync(real2, link2);
    await withHolders(1, async ([h]) => {
      await h!.open(link, "w", 3);
      await h!.open(real2, "u", 4);
      assert.equal(sorted(await ctx.check.writers([real])), [real], "opened via symlink, asked by real path");
      assert.equal(sorted(await ctx.check.writers([link2])), [link2], "opened by real path, asked via symlink");
    });
  });

  test("one file under several candidate paths (hard link, symlink): every path is returned", async (ctx) => {
    const f = file(ctx, "multi");
    const hard = join(ctx.dir, `${++seq}-hard`);
    linkSync(f, hard);
    const soft = join(ctx.dir, `${++seq}-soft`);
    symlinkSync(hard, soft);
    await withHolders(1, async ([h]) => {
      await h!.open(hard, "w");
      assert.equal(sorted(await ctx.check.writers([f, hard, soft])), [f, hard, soft].sort());
    });
  });

  test("a file opened through a bind mount matches the original path, and the reverse", async (ctx) => {
    if (!isRoot) {
      console.log(`  [${name}] SKIPPED bind-mount case: needs root to mount --bind (running as uid ${process.getuid?.()})`);
      return;
    }
    const source = join(ctx.dir, `${++seq}-bind-source`);
    const target = join(ctx.dir, `${++seq}-bind-target`);
    mkdirSync(source);
    mkdirSync(target);
    writeFileSync(join(source, "a"), "a");
    writeFileSync(join(source, "b"), "b");
    let mounted = false;
    try {
      execFileSync("mount", ["--bind", source, target]);
      mounted = true;
      await withHolders(1, async ([h]) => {
        await h!.open(join(target, "a"), "w", 3);
        await h!.open(join(source, "b"), "u", 4);
        assert.equal(sorted(await ctx.check.writers([join(source, "a")])), [join(source, "a")], "opened via the bind mount");
        assert.equal(sorted(await ctx.check.writers([join(target, "b")])), [join(target, "b")], "asked via the bind mount");
      });
    } finally {
      if (mounted) execFileSync("umount", [target]);
    }
  });

  test("a file this very process holds open for writing counts", async (ctx) => {
    const f = file(ctx, "self");
    const fd = openSync(f, "r+");
    try {
      assert.equal(sorted(await ctx.check.writers([f])), [f]);
    } finally {
      closeSync(fd);
    }
    const ro = openSync(f, "r");
    try {
      assert.equal(sorted(await ctx.check.writers([f])), []);
    } finally {
      closeSync(ro);
    }
  });

  test("processes starting and exiting during the checks neither fail them nor change stable answers", async (ctx) => {
    const stable = file(ctx, "stable-writer");
    const readOnly = file(ctx, "stable-reader");
    const churned = Array.from({ length: 8 }, (_, i) => file(ctx, `churn-${i}`));
    const churn = new ProcessChurn(churned);
    await withHolders(1, async ([h]) => {
      await h!.open(stable, "w", 3);
      await h!.open(readOnly, "r", 4);
      try {
        churn.start();
        await churn.waitForSpawned(20);
        for (let i = 0; i < 6; i++) {
          const writers = await ctx.check.writers([stable, readOnly, ...churned]);
          assert.ok(writers.has(stable), `check ${i}: the stable writer is always seen`);
          assert.not.ok(writers.has(readOnly), `check ${i}: the read-only file is never a writer`);
        }
      } finally {
        await churn.stop();
      }
      assert.ok(churn.exited >= 20, `short-lived processes came and went (${churn.exited})`);
    });
  });

  test.run();
}
