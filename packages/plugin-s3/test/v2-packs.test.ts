// Format v2's packs on S3 (s3rver, through a proxy that sees every request): a thousand small files' blobs are one
// object, and one blob comes back with one ranged GET.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { PackStore } from "@rtbackup/core/v2";
import { withStack } from "./helpers/stack.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("1,000 small blobs are one object on S3; reading one back is one ranged GET of its bytes", () =>
  withStack({}, async ({ proxy, storage }) => {
    const packs = new PackStore(storage, { packSize: 16 * 1024 * 1024 });
    const blobs = Array.from({ length: 1000 }, (_, i) => randomBytes(1024 + ((i * 7919) % (15 * 1024))));
    const before = proxy.seen.length;
    for (const b of blobs) await packs.add(sha(b), b);
    const stored = await packs.flush();
    const puts = proxy.seen.slice(before).filter((r) => r.method === "PUT" || r.method === "POST");
    assert.is(stored.length, 1000);
    const keys = new Set(puts.map((r) => r.url.split("?")[0]));
    assert.is(keys.size, 1, `objects written: ${[...keys].join(", ")}`);
    assert.ok(puts.length <= 4, `${puts.length} requests (the test stack's part size makes this pack a 2-part upload)`);
    const one = stored[321]!;
    const readAt = proxy.seen.length;
    assert.ok((await packs.read(one)).equals(blobs[321]!));
    const gets = proxy.seen.slice(readAt).filter((r) => r.method === "GET");
    assert.is(gets.length, 1);
    assert.is(gets[0]!.headers.range, `bytes=${one.offset}-${one.offset + one.length - 1}`);
    const contents = await packs.contents(one.pack);
    assert.is(contents.length, 1000, "the table of contents, by ranged reads");
  }));

test.run();
