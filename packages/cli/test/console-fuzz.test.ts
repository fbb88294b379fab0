import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect, type Socket } from "node:net";
import { randomBytes, randomInt } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BridgeClient, encodeFrame } from "@rtbackup/core";
import { daemonWorkspace, rtb, startDaemon, stopDaemon, writeConfig } from "./helpers/daemon.js";

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

const TYPES = ["stats", "rescanStatus", "subscribe", "unsubscribe", "hello", "cancelRescan", "check", "nope", "", 42, null];

/** One fuzz frame (or non-frame), chosen at random. */
function fuzzChunk(): Buffer {
  switch (randomInt(8)) {
    case 0:
      return randomBytes(randomInt(1, 300));
    case 1: {
      const body = randomBytes(randomInt(0, 500));
      return Buffer.concat([encodeFrame(null).subarray(0, 0), lengthPrefix(body.length), body]);
    }
    case 2: {
      const frame = encodeFrame({ v: 1, id: randomInt(1e6), type: "stats" });
      return frame.subarray(0, randomInt(1, frame.length));
    }
    case 3:
      return encodeFrame({
        v: randomInt(3),
        id: randomInt(2) ? randomInt(1e6) : randomBytes(8).toString("hex"),
        type: TYPES[randomInt(TYPES.length)],
        paths: randomInt(2) ? [`/${randomBytes(4).toString("hex")}`] : "x",
        wait: randomInt(2) === 0,
        timeoutMs: randomInt(-5, 50),
      });
    case 4:
      return encodeFrame([randomBytes(20).toString("base64")]);
    case 5:
      return encodeFrame({ v: 1, id: 1, type: "stats", pad: "y".repeat(randomInt(1000, 20_000)) });
    case 6:
      return Buffer.concat([lengthPrefix(randomInt(2) ? 0xffffffff : 1024 * 1024 + randomInt(1, 1e6)), randomBytes(16)]);
    default:
      return encodeFrame({ v: 1, id: randomInt(1e6), type: "stats", includeUploads: randomInt(3) === 0 ? "maybe" : true });
  }
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

let slowNotDropped = 0;

/**
 * Opens a connection and writes the chunks then half-closes; or (`neverRead`) floods requests without reading a
 * reply and keeps writing until the server drops it (a write then fails). Resolves when the connection is closed.
 */
function fuzzConnection(path: string, chunks: Buffer[], neverRead: boolean): Promise<void> {
  return new Promise((resolve) => {
    const s: Socket = connect(path);
    let poke: NodeJS.Timeout | undefined;
    // The daemon drops a client whose replies stay unread for 5 s.
    const timer = setTimeout(
      () => {
        if (neverRead) slowNotDropped++;
        s.destroy();
      },
      neverRead ? 20_000 : 5000,
    );
    s.on("error", () => undefined);
    s.on("close", () => {
      clearTimeout(timer);
      clearInterval(poke);
      resolve();
    });
    s.on("connect", () => {
      if (!neverRead) {
        s.resume();
        for (const c of chunks) s.write(c);
        s.end();
        return;
      }
      s.pause();
      const ask = encodeFrame({ v: 1, id: 1, type: "stats", includeUploads: true });
      for (let i = 0; i < 3000; i++) s.write(ask);
      // A paused socket never sees the server's close; its next write does (EPIPE).
      poke = setInterval(() => s.write(ask), 20);
    });
  });
}

test("thousands of random and truncated frames: the daemon keeps answering a well-formed client and its memory stays bounded", async () => {
  const ws = await daemonWorkspace();
  const ipc = join(ws.dir, "ipc");
  await writeConfig(ws.config, ws.dir, ws.socket, { ipcPath: ipc });
  try {
    const daemon = await startDaemon(ws);
    const sock = join(ipc, "bridge.socket");
    const deadline = Date.now() + 10_000;
    let good: BridgeClient | undefined;
    while (!good) {
      good = await BridgeClient.connect({ path: sock }).catch((e: Error) => {
        if (Date.now() > deadline) throw e;
        return new Promise<undefined>((r) => setTimeout(() => r(undefined), 50));
      });
    }
    let answered = 0;
    let slowest = 0;
    let fuzzing = true;
    const steady = (async () => {
      while (fuzzing) {
        const t0 = Date.now();
        const s = await good.request("stats");
        slowest = Math.max(slowest, Date.now() - t0);
        assert.ok(s.time);
        answered++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    let frames = 0;
    let connectionsMade = 0;
    const round = async (connections: number) => {
      connectionsMade += connections;
      const jobs: Promise<void>[] = [];
      for (let i = 0; i < connections; i++) {
        const chunks = Array.from({ length: randomInt(10, 40) }, fuzzChunk);
        frames += chunks.length;
        jobs.push(fuzzConnection(sock, chunks, false));
      }
      await Promise.all(jobs);
    };
    const slowClients = Promise.all(Array.from({ length: 8 }, () => fuzzConnection(sock, [], true)));
    // Warm up first, so the baseline includes the heap a busy bridge needs anyway.
    for (let r = 0; r < 5; r++) await round(20);
    const before = await rssKiB(daemon.pid!);
    const answeredBefore = answered;
    const samples: number[] = [];
    for (let r = 0; r < 30; r++) {
      await round(20);
      if (r % 5 === 4) samples.push(await rssKiB(daemon.pid!));
    }
    const after = await rssKiB(daemon.pid!);
    fuzzing = false;
    await steady;
    await slowClients;
    process.stdout.write(
      `  fuzz: ${frames} frames over ${connectionsMade} connections; well-formed replies ${answered} (slowest ${slowest} ms); RSS ${before} → ${samples.join(" → ")} → ${after} KiB\n`,
    );
    assert.ok(frames >= 5000, `sent ${frames} frames`);
    assert.ok(answered - answeredBefore >= 10, "the well-formed client kept getting answers during the fuzzing");
    assert.ok(slowest < 3000, `no answer took more than 3 s (slowest ${slowest} ms)`);
    assert.ok(after - before < 64 * 1024, `RSS grew by ${after - before} KiB`);
    assert.is(daemon.exitCode, null, "the daemon is still running");
    assert.is(slowNotDropped, 0, "every client that never read was dropped");
    const r = await rtb(["console", "stats", "--json", "--connect", sock]);
    assert.is(r.code, 0, r.stderr);
    good.close();
    assert.is(await stopDaemon(daemon), 0);
  } finally {
    await ws.cleanup();
  }
});

test.run();
