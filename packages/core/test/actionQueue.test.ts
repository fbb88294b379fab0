import { test } from "uvu";
import * as assert from "uvu/assert";
import { ActionQueue, SourceHealthBoard, type BackupAction } from "@rtbackup/core";

const upload = (path: string, source: string): BackupAction => ({ type: "upload", path, source });

test("a newer upload of a queued path replaces the queued one (newest wins) and the old one is handed back", async () => {
  const handled: string[] = [];
  const replaced: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const queue = new ActionQueue({
    concurrency: 1,
    handler: async (action) => {
      if (action.type === "upload") handled.push(action.source);
      await gate;
    },
    onReplaced: (old) => replaced.push(old.type === "upload" ? old.source : "?"),
  });
  queue.enqueue(upload("/busy", "busy@1"));
  queue.enqueue(upload("/f", "snap1/f"));
  queue.enqueue(upload("/f", "snap2/f"));
  queue.enqueue(upload("/f", "snap3/f"));
  release();
  await queue.idle();
  assert.equal(handled, ["busy@1", "snap3/f"], "the queued upload read the newest source, once");
  assert.equal(replaced, ["snap1/f", "snap2/f"], "what the replaced ones held is released");
  assert.is(queue.stats.replaced, 2);
});

test("source health: states, lost events and the last error are kept; the worst state and a summary are given", () => {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const board = new SourceHealthBoard(() => now);
  assert.is(board.worst, undefined);
  board.report("fanotify", { state: "watching", eventsLost: 0 });
  now += 1000;
  board.report("fanotify", { state: "degraded", eventsLost: 3, lastError: "could not open (ENOENT)" });
  board.report("other", { state: "watching" });
  assert.is(board.worst, "degraded");
  const [f] = board.list();
  assert.equal([f!.state, f!.eventsLost, f!.lastError, f!.since], ["degraded", 3, "could not open (ENOENT)", "2026-01-01T00:00:01.000Z"]);
  board.report("fanotify", { state: "stopped" });
  assert.is(board.worst, "stopped");
  assert.is(board.list()[0]!.eventsLost, 3, "a report without counts keeps them");
  assert.match(board.summary(), "fanotify stopped, 3 lost (last error: could not open (ENOENT)); other watching, 0 lost");
});

test.run();
