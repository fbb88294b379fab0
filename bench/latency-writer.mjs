// The writer of a latency burst, in its own process like any program whose files are backed up: writes each path
// back to back and, after each close, sends { path, closedAt } (ms since the epoch, sub-millisecond) to its parent.
// Usage (forked with IPC): node latency-writer.mjs <seed> <path>...
import { writeFile } from "node:fs/promises";
import { prng } from "./lib.mjs";

const [seed, ...paths] = process.argv.slice(2);
const fill = prng(Number(seed));
const buf = Buffer.alloc(4096);
let sent = Promise.resolve();
for (const path of paths) {
  await writeFile(path, fill(buf));
  sent = new Promise((resolve) => process.send({ path, closedAt: performance.timeOrigin + performance.now() }, resolve));
}
// Messages go out in order: once the last one is sent, every one is, and the channel may close without losing any.
await sent;
process.disconnect();
