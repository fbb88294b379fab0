import { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { createGunzip } from "node:zlib";
import { StorageError, messageOf } from "../../errors.js";
import type { FileEntry } from "../../types.js";
import type { ObjectCipher } from "./cipher.js";
import {
  checkpointCorrupt,
  checkpointHeader,
  checkpointPut,
  indexLineReader,
  openIndexObject,
  type CheckpointHeader,
  type CheckpointName,
} from "./laneBatch.js";
import type { StoredBlob } from "./PackStore.js";

/** What one piece of a checkpoint's text held. */
export interface CheckpointPart {
  readonly blobs: StoredBlob[];
  readonly entries: FileEntry[];
}

/** Longest line a checkpoint may hold (an entry with many extended attributes is the longest there is). */
const MAX_LINE_CHARS = 64 * 1024 * 1024;
/** How much stored text is inflated at once. */
const PIECE = 256 * 1024;
const DECLINED = Symbol("declined");

/**
 * Reads a checkpoint a piece at a time (docs/format-v2.md "Checkpoints"). Its stored bytes are opened and their
 * digest checked first, over all of them, so nothing of an altered object is ever given out. Then the text is inflated
 * as a stream (a series of gzip members reads as one text) and cut into lines. The header goes to `header`, which
 * may decline the rest (false: the checkpoint is of no use to the reader, and nothing more is inflated). Then each
 * piece's blobs and puts go to `part`, in order. Memory holds the stored bytes and one piece of text, never the
 * whole text of a tree (before, a million entries were some 0.8 GB of text, lines and objects at once).
 * Resolves whether it was read to the end; a corrupt checkpoint is an INTEGRITY error naming it, possibly after some
 * parts were given out (the reader then forgets them).
 */
export async function streamCheckpointV2(
  name: CheckpointName,
  stored: Buffer,
  cipher: ObjectCipher,
  sink: { header(header: CheckpointHeader): boolean; part(part: CheckpointPart): void },
): Promise<boolean> {
  const corrupt = checkpointCorrupt(name);
  const plain = openIndexObject(stored, name.key, name.digest, cipher, corrupt);
  const reader = indexLineReader(name.key, corrupt);
  let header: CheckpointHeader | undefined;
  let lines = 0;
  let afterRecords = false;
  const take = (text: string) => {
    const part: CheckpointPart = { blobs: [], entries: [] };
    for (const line of text.split("\n")) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        corrupt(`line ${lines + 1} is not JSON`);
      }
      if (header === undefined) {
        header = checkpointHeader(value, name, corrupt);
        if (!sink.header(header)) throw DECLINED;
      } else {
        if (lines > header.count) corrupt(`its header counts ${header.count} lines, it has more`);
        const item = reader(value, lines, afterRecords);
        if (!("op" in item)) part.blobs.push(item);
        else part.entries.push(checkpointPut(item, corrupt));
        afterRecords ||= "op" in item;
      }
      lines++;
    }
    if (part.blobs.length > 0 || part.entries.length > 0) sink.part(part);
  };
  try {
    await inflateLines(plain, take, corrupt);
  } catch (err) {
    if (err === DECLINED) return false;
    throw err;
  }
  if (header === undefined) return corrupt("it is empty");
  if (header.count !== lines - 1) corrupt(`its header counts ${header.count} lines, it has ${lines - 1}`);
  return true;
}

/**
 * Inflates `plain` as a stream and gives its text to `take` in runs of whole lines (without the last newline). A throw
 * in `take` ends the inflating and is passed on; text that does not inflate or end with a newline is corrupt.
 */
async function inflateLines(plain: Buffer, take: (lines: string) => void, corrupt: (why: string) => never): Promise<void> {
  let carry = "";
  const gunzip = createGunzip({ chunkSize: PIECE });
  Readable.from(pieces(plain)).pipe(gunzip);
  try {
    const decoder = new StringDecoder("utf8");
    // A throw in here ends the iteration, which destroys the inflater.
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      const text = carry + decoder.write(chunk);
      const end = text.lastIndexOf("\n");
      if (end >= 0) take(text.slice(0, end));
      carry = end >= 0 ? text.slice(end + 1) : text;
      if (carry.length > MAX_LINE_CHARS) corrupt(`a line is longer than ${MAX_LINE_CHARS} characters`);
    }
    carry += decoder.end();
  } catch (err) {
    if (err === DECLINED || err instanceof StorageError) throw err;
    corrupt(`it does not decompress (${messageOf(err)})`);
  }
  if (carry !== "") corrupt("it does not end with a newline");
}

function* pieces(bytes: Buffer): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += PIECE) yield bytes.subarray(at, at + PIECE);
}
