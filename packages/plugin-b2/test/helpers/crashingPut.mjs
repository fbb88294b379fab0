// Child process for the crash test: starts a large upload and is killed (SIGKILL) by the test partway through.
// Connection details come from the environment; it never finishes on its own before the test kills it.
import { Readable } from "node:stream";
import { B2Storage } from "@rtbackup/plugin-b2";

const env = process.env;
const size = Number(env.CRASH_SIZE);
const backend = new B2Storage({
  keyId: env.CRASH_KEY_ID,
  applicationKey: env.CRASH_APPLICATION_KEY,
  bucketId: env.CRASH_BUCKET_ID,
  authorizeUrl: env.CRASH_AUTHORIZE_URL,
  largeFileThreshold: 100_000,
  largeFileChunkSize: 64 * 1024,
  partConcurrency: 2,
  owner: "crash-host",
});
function* body() {
  for (let i = 0; i < size; i += 4096) yield Buffer.alloc(Math.min(4096, size - i), i & 0xff);
}
await backend.put(env.CRASH_KEY, () => Readable.from(body()), size);
process.stdout.write("finished\n");
await backend.close();
